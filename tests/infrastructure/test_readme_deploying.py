"""README "Deploying" stays true: its commands name make targets, samconfig environments, files,
parameters, outputs, CLI commands and attributes that exist, and the GitHub variables it asks for are the
ones the workflows read (nothing here talks to AWS)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from execctl.cli import build_parser
from local_runtime.template import PROJECT_ROOT, load_raw_template

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Deploying\n") : README.index("\n## Operating\n")]
SAMCONFIG = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text(encoding="utf-8"))
OIDC_TEMPLATE = PROJECT_ROOT / "deploy" / "github-oidc-role.yaml"


def _commands() -> list[list[str]]:
    """Each command of the section's bash blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", SECTION, flags=re.DOTALL)
    assert len(blocks) >= 4
    text = "\n".join(blocks).replace("\\\n", " ")
    commands, pending = [], ""
    for line in text.splitlines():
        pending += line + "\n"
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # inside a quoted argument that goes on on the next line
            continue
        if words:
            commands.append(words)
        pending = ""
    assert not pending.strip(), pending
    return commands


def _named(program: str) -> list[list[str]]:
    found = [c for c in _commands() if c[0] == program]
    assert found, program
    return found


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_make_targets_exist() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    for command in _named("make"):
        assert re.search(rf"^{re.escape(command[1])}:", makefile, flags=re.MULTILINE), command


def test_sam_deploys_name_samconfig_environments() -> None:
    commands = _named(".venv-sam/bin/sam")
    environments = {_option(c, "--config-env") if "--config-env" in c else "default" for c in commands}
    assert environments == {"default", "staging", "prod"}
    for environment in environments:
        assert "deploy" in SAMCONFIG[environment]
    assert all(c[1:3] == ["deploy", "--guided"] for c in commands)


def test_the_oidc_role_stack_command_matches_its_template() -> None:
    (command,) = [c for c in _named("aws") if c[1:3] == ["cloudformation", "deploy"]]
    assert (PROJECT_ROOT / _option(command, "--template-file")) == OIDC_TEMPLATE
    template = load_raw_template(OIDC_TEMPLATE)
    overrides = dict(item.split("=", 1) for item in command[command.index("--parameter-overrides") + 1 :])
    required = {name for name, p in template["Parameters"].items() if "Default" not in p}
    assert required <= overrides.keys() <= template["Parameters"].keys()
    assert overrides["TargetStackName"] == SAMCONFIG["default"]["global"]["parameters"]["stack_name"]
    assert overrides["GitHubEnvironment"] in template["Parameters"]["GitHubEnvironment"]["AllowedValues"]
    for output in ("DeployRoleArn", "CloudFormationExecutionRoleArn", "GitHubOidcProviderArn"):
        assert output in template["Outputs"], output
        assert f"`{output}`" in SECTION, output


def test_the_first_user_gets_the_attributes_the_pool_defines() -> None:
    (command,) = [c for c in _named("aws") if c[1:3] == ["cognito-idp", "admin-create-user"]]
    attributes = {a["Name"]: a["Value"] for a in json.loads(_option(command, "--user-attributes"))}
    schema = {a["Name"] for a in load_raw_template()["Resources"]["UserPool"]["Properties"]["Schema"]}
    assert {"email", "custom:tenant_id", "custom:account_ids"} <= attributes.keys()
    assert {n.removeprefix("custom:") for n in attributes} - {"email_verified"} <= schema
    assert json.loads(attributes["custom:account_ids"]) == ["acct-acme-emea"]  # a JSON array, as authz reads
    assert attributes["email"] == _option(command, "--username")


def test_execctl_commands_parse() -> None:
    for command in _named(".venv/bin/execctl"):
        words = command[1 : command.index("<")] if "<" in command else command[1:]  # less a redirection
        build_parser().parse_args(words)


@pytest.mark.parametrize("output", ["UserPoolId", "AlarmTopicArn"])
def test_outputs_it_refers_to_exist(output: str) -> None:
    assert f"<{output} output>" in SECTION
    assert output in load_raw_template()["Outputs"]


def test_the_github_variables_are_the_ones_the_workflows_read() -> None:
    workflows = "".join(
        p.read_text(encoding="utf-8") for p in Path(PROJECT_ROOT, ".github/workflows").glob("*.yml")
    )
    read = set(re.findall(r"vars\.([A-Z_]+)", workflows))
    assert read == {"AWS_DEPLOY_ROLE_ARN", "AWS_CLOUDFORMATION_ROLE_ARN", "AWS_ACCOUNT_ID", "AWS_REGION"}
    for variable in read:
        assert f"`{variable}`" in SECTION, variable
    assert "required reviewers" in SECTION


def test_the_logging_role_choice_is_documented_as_the_template_has_it() -> None:
    parameter = load_raw_template()["Parameters"]["ManageApiGatewayAccountRole"]
    assert parameter["Default"] == "false"
    assert "`ManageApiGatewayAccountRole=true`" in SECTION
    assert "Exactly one stack per account and" in SECTION
    assert "RetainExceptOnCreate" in SECTION
