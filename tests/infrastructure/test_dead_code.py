"""The dead-code gate (tools/dead_code.py, run by `make lint`): clean on the shipped code, able to fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import dead_code

SHIPPED = """
from pydantic import BaseModel, model_validator


class Record(BaseModel):
    kept_field: str  # a field: the wire format, never named in code

    @model_validator(mode="after")
    def _check(self) -> "Record":
        return self


def used_by_the_cli() -> None: ...


def only_tests_call_this() -> None: ...


UNUSED_CONSTANT = "x"
"""
CLI = 'from shipped.mod import Record, used_by_the_cli\n\nused_by_the_cli()\nRecord(kept_field="x")\n'


def test_the_shipped_code_has_no_dead_code_beyond_the_whitelist() -> None:
    assert dead_code.check(dead_code.findings(), dead_code.load_whitelist()) == []


def test_every_whitelist_entry_gives_a_reason() -> None:
    entries = dead_code.load_whitelist()
    assert entries
    assert all(len(reason.split()) >= 4 for reason in entries.values())


def test_unused_and_other_code_only_symbols_are_found(tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "mod.py").write_text(SHIPPED)
    (tmp_path / "cli.py").write_text(CLI)

    names = {item.name for item in dead_code.findings([shipped, tmp_path / "cli.py"], [shipped])}

    assert names == {"only_tests_call_this", "UNUSED_CONSTANT"}  # not the field, validator or CLI's call


def test_unneeded_and_unexplained_whitelist_entries_fail(tmp_path: Path) -> None:
    assert dead_code.check([], {"gone_long_ago": "was used once"}) == [
        f"{dead_code.WHITELIST.name}: 'gone_long_ago' matches no finding any more: remove it"
    ]
    bad = tmp_path / "whitelist.txt"
    bad.write_text("lambda_handler\n")
    with pytest.raises(ValueError, match="expected `name: reason`"):
        dead_code.load_whitelist(bad)
