"""Key formats: exact shapes, injection-proof, and defined in exactly one place."""

import re
from pathlib import Path

import pytest

from execution_core.errors import InvalidInputError
from execution_core.models import InternalObjectKind, LedgerEventType
from execution_core.repositories import keys

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "common" / "execution_core"
KEYS_MODULE = PACKAGE / "repositories" / "keys.py"

# Literal fragments of key formats; none may appear in code outside the repositories package.
KEY_MARKERS = [
    "TENANT#",
    "#ACCOUNT#",
    "ACTION_INTENT#",
    "EXECUTION#",
    "OUTCOME#",
    "ACTION_TYPE#",
    "REGISTRY_VERSION#",
    "INTENT#",
    "#EVENT#",
    "CONNECTOR#",
]
# Internal object sort keys are built from the kind enum ("NOTE#…", "TASK#…"), so they are only scanned for.
DERIVED_MARKERS = ["NOTE#", "TASK#"]


def test_key_formats() -> None:
    assert keys.account_pk("t1", "a1") == "TENANT#t1#ACCOUNT#a1"
    assert keys.intent_sk("ai-1") == "ACTION_INTENT#ai-1"
    assert keys.execution_sk("ai-1") == "EXECUTION#ai-1"
    assert keys.outcome_sk("ai-1") == "OUTCOME#ai-1"
    assert keys.registry_pk("CREATE_TASK") == "ACTION_TYPE#CREATE_TASK"
    assert keys.registry_sk(7) == "REGISTRY_VERSION#0000000007"
    assert keys.tenant_pk("t1") == "TENANT#t1"
    assert keys.account_member_sk("a1") == "ACCOUNT#a1"
    assert keys.account_from_member_sk("ACCOUNT#a1") == "a1"
    assert (keys.GLOBAL_PK, keys.KILL_SWITCH_SK, keys.TENANT_CONFIG_SK) == ("GLOBAL", "KILL_SWITCH", "CONFIG")
    assert keys.ledger_sk("ai-1", LedgerEventType.ACTION_FAILED) == "INTENT#ai-1#EVENT#ACTION_FAILED"
    assert keys.occurred_sk("2025-01-01T00:00:00.000000Z", LedgerEventType.SIGNAL, "ai-1") == (
        "2025-01-01T00:00:00.000000Z#SIGNAL#ai-1"
    )
    assert keys.started_sk("2025-01-01T00:00:00.000000Z", "ai-1") == "2025-01-01T00:00:00.000000Z#ai-1"
    assert keys.internal_object_sk(InternalObjectKind.TASK, "o1") == "TASK#o1"
    assert keys.connector_sk("CRM") == "CONNECTOR#CRM"


def test_registry_versions_sort_numerically_as_strings() -> None:
    versions = [1, 2, 9, 10, 11, 99, 100, 1000, 123456789]
    assert sorted(keys.registry_sk(v) for v in reversed(versions)) == [keys.registry_sk(v) for v in versions]


@pytest.mark.parametrize("version", [0, -1, 10**10])
def test_registry_version_out_of_range(version: int) -> None:
    with pytest.raises(InvalidInputError):
        keys.registry_sk(version)


@pytest.mark.parametrize(
    ("tenant", "account"), [("t1#ACCOUNT#a2", "a1"), ("t1", "a1#x"), ("", "a1"), ("t1", "")]
)
def test_separator_cannot_be_injected(tenant: str, account: str) -> None:
    with pytest.raises(InvalidInputError):
        keys.account_pk(tenant, account)


def test_keys_module_defines_every_marker() -> None:
    # Guards the scan below against checking for fragments that no longer exist.
    text = KEYS_MODULE.read_text()
    missing = [m for m in KEY_MARKERS if m not in text]
    assert not missing


def _sources_outside_repositories() -> list[Path]:
    roots = [PACKAGE, ROOT / "functions", ROOT / "execctl", ROOT / "local_runtime"]
    files = [p for root in roots if root.exists() for p in root.rglob("*.py")]
    return [p for p in files if PACKAGE / "repositories" not in p.parents]


def test_key_formats_live_only_in_repositories() -> None:
    files = _sources_outside_repositories()
    assert any(p.name == "models" or p.parent.name == "models" for p in files)  # the scan sees the package
    pattern = re.compile("|".join(re.escape(m) for m in KEY_MARKERS + DERIVED_MARKERS))
    offenders = {
        f"{path.relative_to(ROOT)}:{number}": line.strip()
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    }
    assert offenders == {}


def test_only_keys_module_builds_keys_inside_repositories() -> None:
    others = [p for p in (PACKAGE / "repositories").glob("*.py") if p != KEYS_MODULE]
    pattern = re.compile("|".join(re.escape(m) for m in KEY_MARKERS + DERIVED_MARKERS))
    assert [p.name for p in others if pattern.search(p.read_text())] == []
