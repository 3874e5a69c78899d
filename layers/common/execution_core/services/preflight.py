"""ValidatePreflight: the last check before the side effect. Every doubt stops the execution."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from execution_core.contracts import StartDisposition, StartedExecution
from execution_core.errors import IntentExpiredError, InvalidInputError, KillSwitchEnabledError
from execution_core.models.common import format_timestamp, utc_now
from execution_core.repositories.tenants import TenantRepository


@dataclass(frozen=True)
class PreflightValidator:
    tenants: TenantRepository
    clock: Callable[[], datetime] = utc_now

    def check(self, started: StartedExecution) -> dict[str, str]:
        """Expiry first, then global, tenant and action-type switches, read in one consistent request.

        A failed read raises KillSwitchUnavailableError (fail closed); an unknown tenant is stopped too.
        """
        if started.disposition is not StartDisposition.STARTED or started.expires_at_epoch is None:
            raise InvalidInputError("preflight needs a started execution")
        now = self.clock()
        if int(now.timestamp()) >= started.expires_at_epoch:
            raise IntentExpiredError()
        state = self.tenants.get_kill_switch_state(started.tenant_id)
        if state.global_switch.enabled:
            raise KillSwitchEnabledError("Execution is stopped for all tenants (global kill switch)")
        if state.tenant_execution_enabled is None:
            raise KillSwitchEnabledError("The tenant has no execution configuration; failing closed")
        if not state.tenant_execution_enabled:
            raise KillSwitchEnabledError("Execution is disabled for this tenant")
        if started.action_type in state.disabled_action_types:
            raise KillSwitchEnabledError("This action type is disabled for this tenant")
        return {"checked_at": format_timestamp(now)}
