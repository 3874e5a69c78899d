"""ExecutionStatusApiFunction: the execution status API behind the Cognito authorizer (thin handler):
one intent's status and audit trail, an account's executions (optionally of one status), the caller's
accounts.

Routes are Powertools' (``APIGatewayRestResolver``); the domain (claims → caller, status derivation,
listing, pagination tokens) lives in the shared package, and ``execution_core.api.http`` is the one
exception → HTTP map. Everything is built once per container by its composition root, so a missing
variable fails the cold start.
"""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.api.http import cors_config, register_error_handlers, serve
from execution_core.services.authz import caller_from_claims
from execution_core.services.status import ledger_view, path_identifier
from execution_core.snapstart import prepare_snapshot
from execution_core.wiring.execution_status_api import build

STATUS_PATH = "/executions/<action_intent_id>/status"
LEDGER_PATH = "/executions/<action_intent_id>/ledger"
LIST_PATH = "/accounts/<account_id>/executions"
ACCOUNTS_PATH = "/accounts"

root = build()  # the composition root, once per container (ADR 0020)
settings, logger, tracing, service = root.settings, root.logger, root.tracing, root.service

app = APIGatewayRestResolver(cors=cors_config(settings.origins))
register_error_handlers(app, logger, routes=[STATUS_PATH, LEDGER_PATH, LIST_PATH])


def _caller_claims() -> dict[str, Any]:
    """Only what the authorizer verified; never headers (x-tenant-id) or query parameters."""
    return app.current_event.request_context.authorizer.claims


@app.get(STATUS_PATH)
def get_execution_status(action_intent_id: str) -> dict[str, Any]:
    caller = caller_from_claims(_caller_claims())
    account_id = app.current_event.get_query_string_value("account_id")
    status = service.get_status(caller, path_identifier(action_intent_id, "action_intent_id"), account_id)
    return status.model_dump(mode="json", exclude_none=True)


@app.get(LIST_PATH)
def list_account_executions(account_id: str) -> dict[str, Any]:
    caller = caller_from_claims(_caller_claims())
    query = app.current_event.get_query_string_value
    account = path_identifier(account_id, "account_id")
    page = service.list_executions(caller, account, query("limit"), query("next_token"), query("status"))
    body: dict[str, Any] = {
        "executions": [e.model_dump(mode="json", exclude_none=True) for e in page.executions]
    }
    if page.next_token:
        body["next_token"] = page.next_token
    return body


@app.get(LEDGER_PATH)
def get_execution_ledger(action_intent_id: str) -> dict[str, Any]:
    caller = caller_from_claims(_caller_claims())
    intent_id = path_identifier(action_intent_id, "action_intent_id")
    entries = service.get_ledger(caller, intent_id, app.current_event.get_query_string_value("account_id"))
    return {"action_intent_id": intent_id, "entries": [ledger_view(entry) for entry in entries]}


@app.get(ACCOUNTS_PATH)
def list_caller_accounts() -> dict[str, Any]:
    caller = caller_from_claims(_caller_claims())
    return {"accounts": [{"account_id": account} for account in service.list_accounts(caller)]}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)


prepare_snapshot()  # SnapStart hooks, where the runtime has them
