"""events/status_api_*.json: each sample, run through the function, answers the status its name says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local_runtime.emulator import LocalStack
from local_runtime.project import operations_for
from local_runtime.sample_world import seed_sample_world
from local_runtime.template import PROJECT_ROOT
from tests.support.status_api import FUNCTION, ORIGIN

pytestmark = pytest.mark.emulator

SAMPLES = sorted((PROJECT_ROOT / "events").glob("status_api_*.json"))


def test_the_samples_cover_every_case_the_readme_names() -> None:
    names = {path.stem for path in SAMPLES}
    assert {
        "status_api_get_status_found_200",
        "status_api_get_status_not_found_404",
        "status_api_list_executions_200",
        "status_api_list_expired_next_token_400",
        "status_api_no_claims_401",
        "status_api_foreign_account_403",
        "status_api_preflight_204",
        "status_api_list_accounts_200",
        "status_api_accounts_preflight_204",
        "status_api_list_running_executions_200",
        "status_api_list_invalid_status_400",
        "status_api_get_ledger_200",
        "status_api_get_ledger_not_found_404",
    } <= names


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_sample_event_answers_the_status_in_its_name(runtime: LocalStack, sample: Path) -> None:
    seed_sample_world(operations_for(runtime))  # what `exec-local invoke` seeds before a sample runs
    expected = int(re.fullmatch(r".*_(\d{3})", sample.stem).group(1))  # type: ignore[union-attr]
    event = json.loads(sample.read_text(encoding="utf-8"))

    response = runtime.client("lambda").invoke(
        FunctionName=runtime.physical_name(FUNCTION), Payload=json.dumps(event).encode()
    )
    result = json.loads(response["Payload"].read())

    assert "FunctionError" not in response, result
    assert result["statusCode"] == expected, result
    assert result["multiValueHeaders"]["Access-Control-Allow-Origin"] == [ORIGIN]
    body: Any = json.loads(result["body"]) if result.get("body") else None
    if sample.stem == "status_api_get_status_found_200":
        assert body["status"] == "PENDING"
        assert body["action_type"] == "CREATE_INTERNAL_NOTE"
    if sample.stem == "status_api_list_accounts_200":  # the sample token's custom:account_ids, sorted
        assert body == {"accounts": [{"account_id": "acct-acme-emea"}, {"account_id": "acct-acme-us"}]}
    if sample.stem == "status_api_list_running_executions_200":
        # Other tests may finish some sample executions; whatever is listed is RUNNING.
        assert {row["status"] for row in body["executions"]} <= {"RUNNING"}
    if sample.stem == "status_api_list_invalid_status_400":
        assert (body["error"], body["provided"]) == ("Invalid status parameter", "DONE")
    if sample.stem == "status_api_get_ledger_200":
        assert body["action_intent_id"] == "ai-sample-recorded-0002"
        assert body["entries"][0]["kind"] == "EXECUTION_STARTED"
