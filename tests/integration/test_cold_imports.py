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
