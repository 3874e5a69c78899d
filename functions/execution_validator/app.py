"""ValidatePreflight: expiry and kill switches right before the side effect; fails closed."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from execution_core.aws import aws_client
from execution_core.contracts import StartedExecution, parse_payload
from execution_core.errors import KillSwitchEnabledError
from execution_core.observability import MetricName, ObservabilitySettings, business_metrics, correlate
from execution_core.repositories.tenants import TenantRepository
from execution_core.services.preflight import PreflightValidator
from execution_core.settings import TenantsTable, load_settings


class Settings(TenantsTable, ObservabilitySettings):
    pass


settings = load_settings(Settings, "execution_validator")
logger = Logger()
metrics = business_metrics(settings)
validator = PreflightValidator(tenants=TenantRepository(aws_client("dynamodb"), settings.tenants_table_name))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    started = parse_payload(StartedExecution, event)
    correlate(logger, **started.correlation_keys())
    try:
        return validator.check(started)
    except KillSwitchEnabledError:
        metrics.count(MetricName.KILL_SWITCH_BLOCKED)
        logger.warning("kill switch blocked the execution")
        raise
