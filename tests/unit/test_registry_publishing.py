"""Publishing the bundled registry (services/registry.py) into an in-memory fake of the registry repository
that keeps its one rule (a published version is immutable): identical re-publishing is a no-op, a changed
definition under a published version is refused, and every definition is stamped with one publish time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest

from execution_core.errors import RegistryVersionConflictError
from execution_core.models import ActionTypeRegistryEntry
from execution_core.repositories.registry import ActionTypeRegistryRepository, PublishResult
from execution_core.services.registry import publish_definitions
from local_runtime.template import PROJECT_ROOT
from tests.support.factories import NOW

BUNDLED = PROJECT_ROOT / "registry" / "action_types.json"


@dataclass
class FakeRegistry:
    """Published entries by (type, version); content compared without the publish time, as a re-publish
    of the same file at a later time is the same definition."""

    published: dict[tuple[str, int], ActionTypeRegistryEntry] = field(default_factory=dict)

    def publish(self, entry: ActionTypeRegistryEntry) -> PublishResult:
        key = (entry.action_type, entry.registry_version)
        existing = self.published.get(key)
        if existing is None:
            self.published[key] = entry
            return PublishResult.CREATED
        if existing.model_dump(exclude={"published_at"}) != entry.model_dump(exclude={"published_at"}):
            raise RegistryVersionConflictError()
        return PublishResult.ALREADY_PUBLISHED


def _publish(registry: FakeRegistry, path: Path = BUNDLED) -> dict[str, PublishResult]:
    return publish_definitions(cast(ActionTypeRegistryRepository, registry), path, clock=lambda: NOW)


def test_every_bundled_definition_is_published_once_under_its_type_and_version() -> None:
    registry = FakeRegistry()
    names = [
        f"{d['action_type']}@{d['registry_version']}" for d in json.loads(BUNDLED.read_text())["action_types"]
    ]
    assert _publish(registry) == dict.fromkeys(names, PublishResult.CREATED)
    assert {entry.published_at for entry in registry.published.values()} == {NOW}


def test_publishing_the_same_file_again_changes_nothing() -> None:
    registry = FakeRegistry()
    _publish(registry)
    before = dict(registry.published)
    assert set(_publish(registry).values()) == {PublishResult.ALREADY_PUBLISHED}
    assert registry.published == before


def test_a_changed_definition_under_a_published_version_is_refused(tmp_path: Path) -> None:
    registry = FakeRegistry()
    _publish(registry)
    document = json.loads(BUNDLED.read_text())
    document["action_types"][0]["risk_class"] = (
        "HIGH" if document["action_types"][0]["risk_class"] != "HIGH" else "LOW"
    )
    changed = tmp_path / "action_types.json"
    changed.write_text(json.dumps(document))
    with pytest.raises(RegistryVersionConflictError):
        _publish(registry, changed)
