"""The checkov gate: every accepted finding names a real resource and a reason, and the build fails on a
new finding or on an acceptance checkov no longer needs (so the list is exactly the current findings)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from local_runtime.template import PROJECT_ROOT, load_project_template, load_raw_template
from tools.checkov_gate import (
    ACCEPTED_FILE,
    GENERATED_SUFFIX,
    TEMPLATES,
    TRANSLATED_NAME,
    BaselineError,
    Finding,
    accepted_findings,
    compare,
    reported_findings,
)

ENTRY = {
    "check": "CKV_AWS_117",
    "file": "template.yaml",
    "reason": "No function reaches a private network, so a VPC adds cost and no isolation.",
    "resources": ["PrepareExecutionFunction"],
}


def _report(*failed: tuple[str, str, str], parsing_errors: int = 0) -> dict[str, Any]:
    return {
        "check_type": "cloudformation",
        "results": {
            "failed_checks": [
                {"check_id": check, "file_path": f"/{file}", "resource": f"AWS::Some::Type.{logical_id}"}
                for check, file, logical_id in failed
            ]
        },
        "summary": {"failed": len(failed), "parsing_errors": parsing_errors},
    }


def test_the_reviewed_list_names_resources_that_exist_each_with_a_reason() -> None:
    accepted = accepted_findings(yaml.safe_load(ACCEPTED_FILE.read_text(encoding="utf-8")))
    assert len(accepted) >= 10
    resources = {file: set(load_raw_template(PROJECT_ROOT / file)["Resources"]) for file in TEMPLATES}
    resources["template.yaml"] |= {GENERATED_SUFFIX.sub("", r) for r in load_project_template().resources}
    for finding, reason in accepted.items():
        assert finding.resource in resources[finding.file], finding
        assert len(reason.split()) >= 8, finding


def test_exactly_the_accepted_findings_pass() -> None:
    accepted = accepted_findings({"accepted": [ENTRY]})
    report = _report(("CKV_AWS_117", "template.yaml", "PrepareExecutionFunction"))
    assert compare(reported_findings(report), accepted) == []


def test_a_new_finding_fails() -> None:
    accepted = accepted_findings({"accepted": [ENTRY]})
    reported = reported_findings(
        _report(
            ("CKV_AWS_117", "template.yaml", "PrepareExecutionFunction"),
            ("CKV_AWS_117", "template.yaml", "SomeNewFunction"),  # same check, new resource
            ("CKV_AWS_111", "deploy/github-oidc-role.yaml", "GitHubDeployRole"),
        )
    )
    problems = compare(reported, accepted)
    assert len(problems) == 2
    assert all(p.startswith("new finding:") for p in problems)
    assert any("SomeNewFunction" in p for p in problems)
    assert any("CKV_AWS_111 on GitHubDeployRole" in p for p in problems)


def test_an_acceptance_no_longer_reported_fails() -> None:
    accepted = accepted_findings({"accepted": [ENTRY]})
    assert compare(set(), accepted) == [
        "stale acceptance: CKV_AWS_117 on PrepareExecutionFunction in template.yaml is no longer reported "
        "(remove it)"
    ]


def test_the_translated_template_counts_as_template_yaml_without_hash_suffixes() -> None:
    translated = f"scratch/checkov-x/{TRANSLATED_NAME}"
    reported = reported_findings(
        _report(
            ("CKV_AWS_120", translated, "StatusApiStage"),
            ("CKV_AWS_111", translated, "CommonLayer065ec4a399"),
            ("CKV_AWS_111", translated, "StatusApiDeploymente8a45e9a9d"),
        )
    )
    assert reported == {
        Finding("template.yaml", "CKV_AWS_120", "StatusApiStage"),
        Finding("template.yaml", "CKV_AWS_111", "CommonLayer"),
        Finding("template.yaml", "CKV_AWS_111", "StatusApiDeployment"),
    }


def test_several_frameworks_and_parse_errors() -> None:
    reported = reported_findings([_report(("CKV_AWS_18", "template.yaml", "ArtifactsBucket")), _report()])
    assert reported == {Finding("template.yaml", "CKV_AWS_18", "ArtifactsBucket")}
    with pytest.raises(BaselineError, match="could not parse"):
        reported_findings(_report(parsing_errors=1))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": "because"}, "must say why"),
        ({"reason": None}, "must say why"),
        ({"check": "AVD-AWS-0001"}, "not a checkov AWS check id"),
        ({"file": "other.yaml"}, "not one of the checked templates"),
        ({"resources": []}, "non-empty list"),
        ({"resources": "PrepareExecutionFunction"}, "non-empty list"),
        ({"extra": "field"}, "exactly check, file, reason and resources"),
    ],
)
def test_a_malformed_acceptance_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        accepted_findings({"accepted": [ENTRY | change]})


def test_a_finding_accepted_twice_is_refused() -> None:
    with pytest.raises(BaselineError, match="listed twice"):
        accepted_findings({"accepted": [ENTRY, ENTRY | {"reason": "x" * 50}]})
    with pytest.raises(BaselineError, match="'accepted' list"):
        accepted_findings({"skip-check": ["CKV_AWS_117"]})
