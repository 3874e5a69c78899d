"""Publishing the bundled action type definitions: versioned and immutable."""

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from execution_core.models.common import utc_now
from execution_core.models.registry import ActionTypeRegistryEntry
from execution_core.repositories.registry import ActionTypeRegistryRepository, PublishResult


def load_definitions(path: Path, now: datetime) -> list[ActionTypeRegistryEntry]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [
        ActionTypeRegistryEntry.model_validate({**definition, "published_at": now})
        for definition in document["action_types"]
    ]


def publish_definitions(
    repository: ActionTypeRegistryRepository,
    path: Path,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, PublishResult]:
    """Publish every definition with a conditional write; identical re-publishing is a no-op and a
    changed definition under a published version is refused (RegistryVersionConflictError)."""
    results: dict[str, PublishResult] = {}
    for entry in load_definitions(path, clock()):
        results[f"{entry.action_type}@{entry.registry_version}"] = repository.publish(entry)
    return results
