"""checkov on the CloudFormation templates, against a reviewed list of accepted findings.

template.yaml is scanned twice: as written, and as the SAM translator expands it (so the IAM roles,
stages and permissions SAM generates are checked too); findings of both count as template.yaml's, with
the translator's hash suffixes (CommonLayer065ec4a399) dropped from logical ids.

checkov's own skips are either global (--skip-check) or scattered through template.yaml's Metadata; here
every accepted finding is named (check, file, resource) with one reason per check in
deploy/checkov-accepted.yaml. The build fails on any finding not in that list, and on any listed finding
checkov no longer reports, so the list always says exactly what is accepted and why.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED_FILE = ROOT / "deploy" / "checkov-accepted.yaml"
TEMPLATES = ("template.yaml", "deploy/github-oidc-role.yaml")
CHECK_ID = re.compile(r"^CKV2?_AWS_\d+$")
TRANSLATED_NAME = "template.translated.json"
GENERATED_SUFFIX = re.compile(r"(?<=[A-Za-z])[0-9a-f]{10}$")
MIN_REASON_LENGTH = 40


@dataclass(frozen=True, order=True)
class Finding:
    """One failed check on one resource of one template file."""

    file: str
    check_id: str
    resource: str  # the logical id


class BaselineError(ValueError):
    """The accepted-findings file is malformed."""


def accepted_findings(document: Any) -> dict[Finding, str]:
    """Each accepted finding with its reason; every entry must say why, for named resources."""
    if not isinstance(document, dict) or not isinstance(document.get("accepted"), list):
        raise BaselineError("expected a mapping with an 'accepted' list")
    result: dict[Finding, str] = {}
    for index, entry in enumerate(document["accepted"]):
        where = f"accepted[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"check", "file", "reason", "resources"}:
            raise BaselineError(f"{where}: needs exactly check, file, reason and resources")
        check, file, reason, resources = entry["check"], entry["file"], entry["reason"], entry["resources"]
        if not isinstance(check, str) or not CHECK_ID.match(check):
            raise BaselineError(f"{where}: {check!r} is not a checkov AWS check id")
        if file not in TEMPLATES:
            raise BaselineError(f"{where}: {file!r} is not one of the checked templates {TEMPLATES}")
        if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON_LENGTH:
            raise BaselineError(f"{where} ({check}): the reason must say why ({MIN_REASON_LENGTH}+ chars)")
        if not isinstance(resources, list) or not resources or not all(isinstance(r, str) for r in resources):
            raise BaselineError(f"{where} ({check}): resources must be a non-empty list of logical ids")
        for resource in resources:
            finding = Finding(file, check, resource)
            if finding in result:
                raise BaselineError(f"{where}: {check} on {resource} in {file} is listed twice")
            result[finding] = reason
    return result


def reported_findings(report: Any) -> set[Finding]:
    """The failed checks of checkov's JSON report (one framework: a dict; several: a list of them)."""
    results = report if isinstance(report, list) else [report]
    found: set[Finding] = set()
    for result in results:
        if result.get("summary", {}).get("parsing_errors"):
            raise BaselineError(f"checkov could not parse a template: {result['summary']}")
        for failed in result.get("results", {}).get("failed_checks", []):
            file = str(failed["file_path"]).lstrip("/")
            logical_id = str(failed["resource"]).split(".", 1)[-1]
            if Path(file).name == TRANSLATED_NAME:
                file, logical_id = "template.yaml", GENERATED_SUFFIX.sub("", logical_id)
            found.add(Finding(file, str(failed["check_id"]), logical_id))
    return found


def write_translated_template(directory: Path) -> Path:
    """template.yaml as the SAM translator expands it (default parameters), for checkov to scan."""
    from local_runtime.template import load_project_template  # needs the dev venv's SAM translator

    path = directory / TRANSLATED_NAME
    path.write_text(json.dumps(load_project_template().transformed, indent=1, default=str), encoding="utf-8")
    return path


def compare(reported: set[Finding], accepted: dict[Finding, str]) -> list[str]:
    """What fails the build: new findings, and accepted findings that checkov no longer reports."""
    problems = [
        f"new finding: {f.check_id} on {f.resource} in {f.file} (fix it, or accept it with a reason in "
        f"{ACCEPTED_FILE.relative_to(ROOT)})"
        for f in sorted(reported - accepted.keys())
    ]
    problems += [
        f"stale acceptance: {f.check_id} on {f.resource} in {f.file} is no longer reported (remove it)"
        for f in sorted(accepted.keys() - reported)
    ]
    return problems


def run_checkov(checkov: str, translated: Path) -> Any:
    """checkov's JSON report on the templates (offline: no guideline download)."""
    files = [arg for template in (*TEMPLATES, str(translated)) for arg in ("--file", template)]
    options = ["--framework", "cloudformation", "--output", "json", "--quiet", "--soft-fail"]
    options.append("--skip-download")  # offline: no guideline or mapping download
    completed = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
        [checkov, *files, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        tail = completed.stderr.strip()[-2000:]
        raise BaselineError(f"checkov failed (exit {completed.returncode}): {tail}")
    return json.loads(completed.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--checkov", required=True, help="path of the checkov executable")
    args = parser.parse_args(argv)
    try:
        accepted = accepted_findings(yaml.safe_load(ACCEPTED_FILE.read_text(encoding="utf-8")))
        with tempfile.TemporaryDirectory(prefix="checkov-") as directory:
            translated = write_translated_template(Path(directory))
            reported = reported_findings(run_checkov(args.checkov, translated))
    except BaselineError as error:
        print(f"checkov gate: {error}", file=sys.stderr)
        return 2
    problems = compare(reported, accepted)
    for problem in problems:
        print(f"checkov gate: {problem}", file=sys.stderr)
    if problems:
        return 1
    baseline = ACCEPTED_FILE.relative_to(ROOT)
    print(f"checkov: {len(reported)} findings, each accepted with a reason in {baseline}; no new ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
