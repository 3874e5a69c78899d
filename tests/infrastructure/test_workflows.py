"""The GitHub Actions pipeline: actionlint passes on the workflows and fails on a broken copy, and the
workflows keep their safety properties (pinned actions, OIDC only, one deploy per stage at a time,
staging and prod only from a tag, prod after staging)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_runtime.template import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
ACTIONLINT = PROJECT_ROOT / ".venv-actionlint" / "bin" / "actionlint"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def actionlint() -> Path:
    """The pinned actionlint, installed the way `make lint` installs it if it is not there yet."""
    if not ACTIONLINT.exists():
        subprocess.run(
            ["make", "-s", ".venv-actionlint/.installed"],  # noqa: S607 - make from PATH, as CI runs it
            cwd=PROJECT_ROOT,
            check=True,
        )
    return ACTIONLINT


def _lint(actionlint: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed arguments
        [str(actionlint), "-no-color"], cwd=root, capture_output=True, text=True, check=False
    )


def _workflow(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return document


def test_actionlint_passes_on_the_workflows(actionlint: Path) -> None:
    result = _lint(actionlint, PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    needs: staging\n", "    needs: stagin\n", 'needs job "stagin" which does not exist'),
        ("      config-env: prod\n", "      config-env: prod\n      region: eu-west-1\n", 'input "region"'),
        ("${{ inputs.environment }}\n", "${{ inputs.enviroment }}\n", "enviroment"),
    ],
)
def test_actionlint_fails_on_a_broken_copy(
    actionlint: Path, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    shutil.copytree(WORKFLOWS, tmp_path / ".github" / "workflows")
    (tmp_path / ".git").mkdir()  # actionlint finds a project's workflows from its repository root
    for path in (tmp_path / ".github" / "workflows").glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert sum(p.read_text(encoding="utf-8").count(new) for p in tmp_path.rglob("*.yml")) >= 1
    result = _lint(actionlint, tmp_path)
    assert result.returncode == 1, result.stdout
    assert expected in result.stdout


def test_every_action_is_pinned_to_a_commit_with_its_version_named() -> None:
    lines = [
        line.strip() for p in WORKFLOWS.glob("*.yml") for line in p.read_text(encoding="utf-8").splitlines()
    ]
    uses = [line for line in lines if line.startswith(("- uses:", "uses:")) and "./.github/" not in line]
    assert len(uses) >= 6
    for line in uses:
        reference, _, comment = line.split("uses:", 1)[1].partition("#")
        assert PINNED.match(reference.strip()), line
        assert re.fullmatch(r" v\d+(\.\d+)*", comment), line


def test_no_long_lived_keys_and_least_permissions() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        assert "secrets." not in text, path.name
        assert "aws-access-key-id" not in text, path.name
        assert _workflow(path.name)["permissions"]["contents"] == "read", path.name
    assert _workflow("deploy.yml")["permissions"] == {"contents": "read"}


def test_deploys_run_in_their_environment_one_at_a_time_with_oidc() -> None:
    stage = _workflow("deploy-stage.yml")
    (job,) = stage["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"] == {"group": "deploy-${{ inputs.environment }}", "cancel-in-progress": False}
    credentials = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert stage["permissions"]["id-token"] == "write"
    assert any("make deploy" in s.get("run", "") for s in job["steps"])


def test_main_deploys_dev_and_a_tag_deploys_staging_then_prod() -> None:
    workflow = _workflow("deploy.yml")
    assert workflow["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert "pull_request" in workflow["on"]
    jobs = workflow["jobs"]
    assert jobs["test"]["steps"][-1]["run"] == "bash .ci/run"
    assert jobs["build"]["needs"] == "test"
    environments = {name: jobs[name]["with"]["environment"] for name in ("dev", "staging", "prod")}
    assert environments == {"dev": "dev", "staging": "staging", "prod": "prod"}
    assert "refs/heads/main" in jobs["dev"]["if"]
    for name in ("staging", "prod"):
        assert "startsWith(github.ref, 'refs/tags/v')" in jobs[name]["if"], name
        assert jobs[name]["permissions"] == {"contents": "read", "id-token": "write"}
    assert (jobs["dev"]["needs"], jobs["staging"]["needs"], jobs["prod"]["needs"]) == (
        "build",
        "build",
        "staging",
    )
    configs = {name: jobs[name]["with"]["config-env"] for name in ("dev", "staging", "prod")}
    assert configs == {"dev": "default", "staging": "staging", "prod": "prod"}


def test_make_deploy_never_prompts_and_make_lint_runs_the_checkers() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    deploy = makefile.split("\ndeploy:", 1)[1].split("\n\n", 1)[0]
    assert "--no-confirm-changeset --no-fail-on-empty-changeset" in deploy
    assert '--config-env "$(CONFIG_ENV)"' in deploy
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(ACTIONLINT)" in lint
    assert "tools.checkov_gate" in lint
    assert "deploy/github-oidc-role.yaml" in lint
