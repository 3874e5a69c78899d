"""Every reference to the design record points into the repository, at something that exists.

Code, tests, the template and the docs cite `docs/architecture.md §N.M`, `docs/...` paths, ADR numbers
and `tests/...py::test_name`; a renumbered section, a moved file or a renamed test must fail here rather
than leave a pointer to nothing. References to documents outside the repository are refused outright.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_runtime.template import PROJECT_ROOT

ARCHITECTURE = "docs/architecture.md"
# Spelled in two parts so that this file does not match its own rule.
OUTSIDE_REFERENCES = ("DESIGN" + " §", "DESIGN" + ".md", "seed" + " §", "seeds" + "/000_")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".toml", ".txt", ".cfg", ".ini", ".lock", ""}

_SECTION_LIST = r"(?:\s*(?:,|and)?\s*§\s?\d+(?:\.\d+)*)+"
_ARCHITECTURE_REF = re.compile(r"docs/architecture\.md`?(" + _SECTION_LIST + ")")
_SECTION = re.compile(r"§\s?(\d+(?:\.\d+)*)")
_HEADING = re.compile(r"^#{2,4} (\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
_DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[A-Za-z0-9_./-]*")
_ADR_NUMBER = re.compile(r"\bADRs? \[?(\d{4})\]?")
_TEST_REF = re.compile(r"(?<![\w/.-])(tests/[\w/]+\.py)(?:::(\w+))?")
_MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked_files() -> list[Path]:
    """The repository's text files: tracked or new and not ignored (git's list), else the tree without
    hidden folders. This file is left out: its examples of broken references are meant to be broken."""
    command = ["git", "ls-files", "--cached", "--others", "--exclude-standard"]
    try:
        listed = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)  # noqa: S603
        paths = [PROJECT_ROOT / name for name in listed.stdout.split()]
    except (OSError, subprocess.CalledProcessError):
        paths = [
            p
            for p in PROJECT_ROOT.rglob("*")
            if not any(
                part.startswith(".") or part == "__pycache__" for part in p.relative_to(PROJECT_ROOT).parts
            )
        ]
    this = Path(__file__).resolve()
    return sorted(p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES and p.resolve() != this)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def headings(markdown: str) -> set[str]:
    """Section numbers of a document whose headings read `## 3. Data model` / `### 3.2 Ledger`."""
    return set(_HEADING.findall(markdown))


def architecture_sections(text: str) -> Iterator[str]:
    """Every section number cited as `docs/architecture.md §N.M` (or `…md §1, §4`)."""
    for match in _ARCHITECTURE_REF.finditer(text):
        yield from _SECTION.findall(match.group(1))


def outside_references(text: str) -> list[str]:
    return [needle for needle in OUTSIDE_REFERENCES if needle in text]


def docs_paths(text: str) -> set[str]:
    return {m.rstrip(".,;:") for m in _DOCS_PATH.findall(text)}


def adr_numbers(text: str) -> set[str]:
    return set(_ADR_NUMBER.findall(text))


def cited_tests(text: str) -> set[tuple[str, str | None]]:
    return {(path, name or None) for path, name in _TEST_REF.findall(text)}


FILES = tracked_files()
SECTIONS = headings(_text(PROJECT_ROOT / ARCHITECTURE))
ADRS = {p.name[:4] for p in (PROJECT_ROOT / "docs" / "adr").glob("[0-9][0-9][0-9][0-9]-*.md")}


def _relative(path: Path) -> str:
    return path.relative_to(PROJECT_ROOT).as_posix()


def test_the_scan_sees_the_code_the_docs_and_the_template() -> None:
    names = {_relative(p) for p in FILES}
    assert {"template.yaml", "README.md", ARCHITECTURE, "layers/common/execution_core/errors.py"} <= names
    assert {"docs/openapi.yaml", "tests/unit/test_models.py", "local_runtime/emulator.py"} <= names


def test_the_architecture_document_has_numbered_sections() -> None:
    assert {"1", "1.2", "3", "3.1", "3.2", "4.8", "5", "7"} <= SECTIONS


def test_nothing_refers_to_design_documents_outside_the_repository() -> None:
    found = {_relative(p): hits for p in FILES if (hits := outside_references(_text(p)))}
    assert found == {}


def test_every_cited_architecture_section_exists() -> None:
    missing = {
        f"{_relative(p)}: §{section}"
        for p in FILES
        for section in architecture_sections(_text(p))
        if section not in SECTIONS
    }
    assert missing == set()


def test_the_architecture_document_cites_only_its_own_sections() -> None:
    cited = set(_SECTION.findall(_text(PROJECT_ROOT / ARCHITECTURE)))
    assert cited - SECTIONS == set()


def test_every_docs_path_exists() -> None:
    missing = {
        f"{_relative(p)}: {ref}"
        for p in FILES
        for ref in docs_paths(_text(p))
        if not (PROJECT_ROOT / ref).exists()
    }
    assert missing == set()


def test_every_cited_adr_exists() -> None:
    missing = {f"{_relative(p)}: ADR {n}" for p in FILES for n in adr_numbers(_text(p)) if n not in ADRS}
    assert missing == set()


def test_every_relative_link_in_the_docs_resolves() -> None:
    missing = set()
    for p in FILES:
        if p.suffix != ".md":
            continue
        for target in _MD_LINK.findall(_text(p)):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            if not (p.parent / target.split("#", 1)[0]).exists():
                missing.add(f"{_relative(p)}: {target}")
    assert missing == set()


def test_every_test_the_docs_name_exists() -> None:
    missing = set()
    for p in FILES:
        if p.suffix != ".md":
            continue
        for path, name in cited_tests(_text(p)):
            target = PROJECT_ROOT / path
            if not target.is_file():
                missing.add(f"{_relative(p)}: {path}")
            elif name and not re.search(rf"^\s*def {name}\(", _text(target), re.MULTILINE):
                missing.add(f"{_relative(p)}: {path}::{name}")
    assert missing == set()


# ---------------------------------------------------------------- the rules themselves can fail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see docs/architecture.md §3.2 for keys", ["3.2"]),
        ("(docs/architecture.md §1, §4)", ["1", "4"]),
        ("See `docs/architecture.md` §5.", ["5"]),
        ("docs/architecture.md and nothing else", []),
    ],
)
def test_section_references_are_parsed(text: str, expected: list[str]) -> None:
    assert list(architecture_sections(text)) == expected


def test_a_missing_section_would_be_reported() -> None:
    assert "9.9" not in SECTIONS
    assert list(architecture_sections("docs/architecture.md §9.9")) == ["9.9"]


def test_headings_are_read_with_and_without_a_trailing_dot() -> None:
    assert headings("## 3. Data model\n### 3.2 Ledger\n# Title\nno heading 4.1\n") == {"3", "3.2"}


def test_outside_references_are_recognised() -> None:
    assert outside_references("keys (" + "DESIGN" + " §3) and (" + "seed" + " §2.1)") == [
        "DESIGN" + " §",
        "seed" + " §",
    ]
    assert outside_references("docs/architecture.md §3") == []


def test_paths_adrs_and_tests_are_extracted() -> None:
    text = (
        "docs/missing.md, ADR 0042 and ADR [0001](x), tests/unit/test_x.py::test_y. https://a.example/docs/z"
    )
    assert docs_paths(text) == {"docs/missing.md"}
    assert adr_numbers(text) == {"0042", "0001"}
    assert cited_tests(text) == {("tests/unit/test_x.py", "test_y")}
    assert not (PROJECT_ROOT / "docs/missing.md").exists()
    assert "0042" not in ADRS
