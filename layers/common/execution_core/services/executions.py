"""Whether a Step Functions execution is still running: what a lease takeover and the sweeper wait for."""

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from execution_core.errors import ConfigurationError, DownstreamError

_GONE = frozenset({"ExecutionDoesNotExist", "InvalidArn"})
_FORBIDDEN = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"})


@dataclass(frozen=True)
class ExecutionState:
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
    error: str | None = None
    cause: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"


@dataclass(frozen=True)
class StepFunctionsExecutions:
    client: Any

    def describe(self, execution_arn: str) -> ExecutionState | None:
        """DescribeExecution; None when the execution does not exist. A failed lookup is an error, never
        a guess."""
        try:
            described = self.client.describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _GONE:
                return None
            if code in _FORBIDDEN:
                raise ConfigurationError(
                    "The function may not describe the state machine's executions"
                ) from exc
            raise DownstreamError(f"Step Functions could not describe the execution ({code})") from exc
        except BotoCoreError as exc:
            raise DownstreamError("Step Functions could not be reached") from exc
        return ExecutionState(str(described["status"]), described.get("error"), described.get("cause"))

    def is_running(self, execution_arn: str) -> bool:
        state = self.describe(execution_arn)
        return state is not None and state.running
