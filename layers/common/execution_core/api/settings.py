"""Environment of the execution status API function (composed from the shared field sets)."""

from datetime import timedelta
from typing import Annotated

from pydantic import Field

from execution_core.settings import (
    ActionIntentsTable,
    ComponentSettings,
    ExecutionAttemptsTable,
    ExecutionOutcomesTable,
    LedgerTable,
    TenantsTable,
)


class PaginationSecret(ComponentSettings):
    """The Secrets Manager secret holding the HMAC key of pagination tokens, and the tokens' lifetime."""

    pagination_secret_arn: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+$")
    ]
    pagination_token_ttl_seconds: Annotated[int, Field(ge=60, le=3600)] = 900

    @property
    def pagination_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.pagination_token_ttl_seconds)


class CorsOrigins(ComponentSettings):
    """Browser origins allowed to call the API, comma separated (the AllowedOrigins parameter)."""

    cors_allowed_origins: Annotated[str, Field(min_length=1, max_length=4096)]

    @property
    def origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allowed_origins.split(",") if origin.strip()]


class StatusApiSettings(
    ActionIntentsTable,
    ExecutionAttemptsTable,
    ExecutionOutcomesTable,
    TenantsTable,
    LedgerTable,
    PaginationSecret,
    CorsOrigins,
):
    """Everything ExecutionStatusApiFunction reads from its environment."""
