"""The local runtime's YAML reader (written to keep cfn-lint out of every exec-local process) reads our
templates exactly as cfn-lint's decoder does, and refuses what CloudFormation would refuse."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

from local_runtime.template import PROJECT_ROOT, TEMPLATE_PATH, TemplateError, load_raw_template

TEMPLATES = [TEMPLATE_PATH, PROJECT_ROOT / "deploy" / "github-oidc-role.yaml"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.name)
def test_reads_each_template_as_cfn_lint_does(path: Path) -> None:
    expected, matches = decode_str(path.read_text(encoding="utf-8"))
    assert matches == []
    assert load_raw_template(path) == expected


def test_short_forms_become_their_long_forms(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "A: !Ref Bucket\n"
        "B: !GetAtt Role.Arn\n"
        "C: !GetAtt [Role, Arn]\n"
        "D: !Sub '${AWS::StackName}-x'\n"
        "E: !Join ['-', [!Ref Stage, x]]\n"
        "F: !Condition IsProd\n"
        "G: !If [IsProd, !Ref 'AWS::NoValue', 1]\n",
        encoding="utf-8",
    )
    assert load_raw_template(path) == {
        "A": {"Ref": "Bucket"},
        "B": {"Fn::GetAtt": ["Role", "Arn"]},
        "C": {"Fn::GetAtt": ["Role", "Arn"]},
        "D": {"Fn::Sub": "${AWS::StackName}-x"},
        "E": {"Fn::Join": ["-", [{"Ref": "Stage"}, "x"]]},
        "F": {"Condition": "IsProd"},
        "G": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 1]},
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Resources:\n  A: 1\n  A: 2\n", "duplicate key 'A' (line 3)"),
        ("Resources: [unclosed\n", "cannot parse"),
        ("- just\n- a list\n", "not a mapping"),
        ("A: !!python/object:os.system ls\n", "cannot parse"),
        ("? [a, b]\n: c\n", "unhashable key"),
    ],
    ids=["duplicate-key", "bad-yaml", "not-a-mapping", "python-tag", "list-as-key"],
)
def test_refuses_what_cloudformation_would(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=re.escape(reason)):
        load_raw_template(path)


def test_reading_the_project_does_not_import_cfn_lint() -> None:
    """The point of the reader: an exec-local process does not pay cfn-lint's (and sympy's) import."""
    code = (
        "import sys; from local_runtime.template import load_project_template; load_project_template(); "
        "print(sorted(m for m in ('cfnlint', 'sympy') if m in sys.modules))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
