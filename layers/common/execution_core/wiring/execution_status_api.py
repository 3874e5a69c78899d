"""The execution status API's composition root (ADR 0020): settings → clients → repositories → the
status service. The routes stay in the handler."""

from dataclasses import dataclass

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from execution_core.aws import aws_client
from execution_core.repositories.status_read import StatusReadRepository
from execution_core.repositories.tenants import TenantRepository
from execution_core.services.pagination import PaginationTokens, secret_key
from execution_core.services.status import StatusService
from execution_core.settings import StatusApiSettings, aws_region, load_settings
from execution_core.tracing import Tracing, start_tracing

SECRET_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class Root:
    settings: StatusApiSettings
    logger: Logger
    tracing: Tracing
    service: StatusService


def build() -> Root:
    aws_region()  # set by the Lambda runtime; its absence means a broken runtime, reported by name
    settings = load_settings(StatusApiSettings, "execution_status_api")
    logger = Logger()
    tracing = start_tracing()  # Powertools Tracer only when tracing is on (ADR 0014)
    # API Gateway gives up after 29 s and the function after 10 s: two quick tries at most.
    dynamodb = aws_client("dynamodb", connect_timeout=1.0, read_timeout=3.0)
    secrets = SecretsProvider(
        boto3_client=aws_client("secretsmanager", connect_timeout=1.0, read_timeout=3.0)
    )
    service = StatusService(
        reader=StatusReadRepository(
            dynamodb,
            settings.action_intents_table_name,
            settings.execution_attempts_table_name,
            settings.execution_outcomes_table_name,
            tenants_table=settings.tenants_table_name,
            ledger_table=settings.ledger_table_name,
        ),
        tenants=TenantRepository(dynamodb, settings.tenants_table_name),
        tokens=PaginationTokens(
            secret_key(lambda: secrets.get(settings.pagination_secret_arn, max_age=SECRET_MAX_AGE_SECONDS)),
            ttl=settings.pagination_token_ttl,
        ),
    )
    return Root(settings, logger, tracing, service)
