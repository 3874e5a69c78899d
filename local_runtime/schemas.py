"""The JSON Schemas the upstream decision system writes against, generated from the models that check
them (docs/schemas/). A test fails when a model changes and the published schema was not regenerated:
`.venv/bin/python -m local_runtime.schemas`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from execution_core.contracts import ActionApprovedDetail
from execution_core.models import ActionIntent
from local_runtime.template import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "docs" / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def published_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, as the models validate (pydantic's validation-mode JSON Schema)."""
    intent = ActionIntent.model_json_schema(mode="validation")
    approved = ActionApprovedDetail.model_json_schema(mode="validation")
    return {
        "action-intent.schema.json": {
            "$schema": DIALECT,
            "$id": "action-intent.schema.json",
            **intent,
            "title": "ActionIntent",
            "description": (
                "An approved action intent as the upstream decision system stores it in the ActionIntents "
                "table (`execctl intent put --file F` checks a file against it). It is never re-decided: "
                "execution fulfils it once, before expires_at. expires_at_epoch is the same instant in "
                "epoch seconds."
            ),
        },
        "action-approved.schema.json": {
            "$schema": DIALECT,
            "$id": "action-approved.schema.json",
            **approved,
            "title": "ACTION_APPROVED detail",
            "description": (
                "The detail of the ACTION_APPROVED event the upstream emits on the execution bus "
                "(DetailType ACTION_APPROVED, Source: the stack's ApprovalEventSource output) after it "
                "stored the intent. Extra fields are ignored; the intent itself is read from the table."
            ),
        },
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in published_schemas().items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    import sys

    for path in write():
        sys.stdout.write(f"wrote {path.relative_to(PROJECT_ROOT)}\n")
