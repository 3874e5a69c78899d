"""CrmAdapterFunction: ``crm.create_task`` for the tool invoker (parse → adapter → serialize).

Everything is built once per container at import, so a missing variable fails the cold start with its
name. Errors propagate: their class name is the Lambda errorType the state machine's Retry/Catch match.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.adapters.crm import (
    CrmSettings,
    CrmTaskAdapter,
    SecretsManagerSource,
    build_http_pool,
)
from execution_core.aws import aws_client
from execution_core.contracts import AdapterRequest, parse_payload
from execution_core.repositories import ConnectorConfigRepository, ExternalWriteRepository
from execution_core.settings import ConnectorConfigTable, ExternalWritesTable, load_settings


class Settings(ConnectorConfigTable, ExternalWritesTable, CrmSettings):
    """What this function reads from its environment."""


settings = load_settings(Settings, "crm-adapter")
_dynamodb = aws_client("dynamodb")
_secretsmanager = aws_client("secretsmanager")

logger = Logger()
adapter = CrmTaskAdapter(
    connectors=ConnectorConfigRepository(_dynamodb, settings.connector_config_table_name),
    external_writes=ExternalWriteRepository(_dynamodb, settings.external_writes_table_name),
    secrets=SecretsManagerSource(_secretsmanager),
    http=build_http_pool(settings),
    allowed_origins=settings.origin_patterns(),
    secret_prefix=settings.crm_secret_prefix,
    log=logger,
)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_payload(AdapterRequest, event)
    # Thread-scoped keys: the local runtime runs several invocations in one process at once.
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(
        action_intent_id=request.action_intent_id, tenant_id=request.tenant_id, account_id=request.account_id
    )
    return adapter.create_task(request).model_dump(mode="json")
