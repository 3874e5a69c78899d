"""Live aliases in the code: a stored adapter ARN, qualified or not, is invoked through its live alias, and
the reconciler asks an attempt recorded before the aliases existed through that alias too (split from
tests/infrastructure/test_versions_template.py, which checks the template's side of the same rule)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from execution_core.contracts import LIVE_ALIAS, live_alias_arn
from execution_core.services.effects import EffectState
from execution_core.services.reconciler import EffectResolver
from tests.support import factories


@pytest.mark.parametrize(
    ("stored", "invoked"),
    [
        ("arn:aws:lambda:us-east-1:1:function:crm", "arn:aws:lambda:us-east-1:1:function:crm:live"),
        ("arn:aws:lambda:us-east-1:1:function:crm:live", "arn:aws:lambda:us-east-1:1:function:crm:live"),
        ("arn:aws:lambda:us-east-1:1:function:crm:7", "arn:aws:lambda:us-east-1:1:function:crm:live"),
        ("crm", "crm:live"),
        ("crm:live", "crm:live"),
    ],
)
def test_a_stored_adapter_is_invoked_through_its_live_alias(stored: str, invoked: str) -> None:
    assert live_alias_arn(stored) == invoked


class _RecordingLambda:
    """A Lambda client that answers every lookup with PRESENT and remembers what it was asked to invoke."""

    def __init__(self) -> None:
        self.invoked: list[str] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.invoked.append(FunctionName)
        return {"Payload": io.BytesIO(json.dumps({"state": "PRESENT"}).encode())}


def test_the_reconciler_asks_an_attempt_recorded_before_the_aliases_through_the_live_alias() -> None:
    """The reconciler's role may invoke only the alias: a stored unqualified adapter ARN is qualified."""
    client = _RecordingLambda()
    unqualified = "arn:aws:lambda:us-east-1:123456789012:function:bel-CrmAdapterFunction"
    attempt = factories.attempt(
        adapter_function=unqualified,
        idempotency_key="key-0123456789",
        tool_name="crm.create_task",
        action_type="CREATE_CRM_TASK",
    )

    assert EffectResolver(client).resolve(attempt) is EffectState.PRESENT
    assert client.invoked == [f"{unqualified}:{LIVE_ALIAS}"]
