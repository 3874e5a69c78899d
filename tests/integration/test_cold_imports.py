"""What a handler's cold start must not import (ADR 0014), checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

from local_runtime.template import PROJECT_ROOT

LAYER = str(PROJECT_ROOT / "layers" / "common")
_PROBE = """
import json, sys
from execution_core.settings import ActionIntentsTable, ExecutionAttemptsTable, load_settings
import execution_core.contracts, execution_core.services.recording, execution_core.observability
class S(ActionIntentsTable, ExecutionAttemptsTable):
    pass
load_settings(S, "probe", environ={"ACTION_INTENTS_TABLE_NAME": "tb1",
                                  "EXECUTION_ATTEMPTS_TABLE_NAME": "tb2"})
from execution_core.models.execution import ActionOutcome
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in {"pydantic_settings", "dotenv"}),
    "outcome_built": type(ActionOutcome.__pydantic_validator__).__name__ == "SchemaValidator",
    "outcome_rebuilt": ActionOutcome.model_rebuild(force=True) is not False
        and type(ActionOutcome.__pydantic_validator__).__name__ == "SchemaValidator",
}))
"""


def _probe() -> dict[str, object]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _PROBE],
        env={"PYTHONPATH": LAYER, "PYTHONDONTWRITEBYTECODE": "1", "AWS_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_shared_package_loads_no_settings_framework_and_builds_no_model() -> None:
    probe = _probe()
    assert probe["modules"] == []
    assert probe["outcome_built"] is False  # deferred: built on first use (or by SnapStart's priming)
    assert probe["outcome_rebuilt"] is True  # the probe can tell a built model from a deferred one


_INDEX_PROBE = """
import json, sys
import execution_core.models, execution_core.repositories
before = sorted(m for m in sys.modules if m.startswith("execution_core."))
from execution_core.models import ActionOutcome
from execution_core.repositories import ExecutionOutcomeRepository
after = sorted(m for m in sys.modules if m.startswith("execution_core."))
print(json.dumps({"before": before, "after": after}))
"""


def test_the_package_indexes_import_a_module_only_for_a_name_asked_for() -> None:
    """``execution_core.models`` and ``.repositories`` are lazy indexes (ADR 0014): importing either
    imports none of their modules (only their resolver, ``execution_core.package_index``), and a name imports
    its own module and that module's imports only."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _INDEX_PROBE],
        env={"PYTHONPATH": LAYER, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["before"] == [
        "execution_core.models",
        "execution_core.package_index",
        "execution_core.repositories",
    ]
    loaded = set(probe["after"])
    assert {"execution_core.models.execution", "execution_core.repositories.outcomes"} <= loaded
    for other in ("models.tenant", "models.signal", "models.registry", "models.adapters"):
        assert f"execution_core.{other}" not in loaded
    for other in ("tenants", "status_read", "registry", "attempts", "signals", "connector_config"):
        assert f"execution_core.repositories.{other}" not in loaded
