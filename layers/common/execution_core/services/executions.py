"""Whether a Step Functions execution is still running: what a lease takeover waits for."""

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from execution_core.errors import ConfigurationError, DownstreamError

_GONE = frozenset({"ExecutionDoesNotExist", "InvalidArn"})
_FORBIDDEN = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"})


@dataclass(frozen=True)
class StepFunctionsExecutions:
    client: Any

    def is_running(self, execution_arn: str) -> bool:
        """DescribeExecution: RUNNING, or gone / ended. A failed lookup is an error, never a guess."""
        try:
            status = self.client.describe_execution(executionArn=execution_arn)["status"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _GONE:
                return False
            if code in _FORBIDDEN:
                raise ConfigurationError(
                    "The function may not describe the state machine's executions"
                ) from exc
            raise DownstreamError(f"Step Functions could not describe the lease holder ({code})") from exc
        except BotoCoreError as exc:
            raise DownstreamError("Step Functions could not be reached") from exc
        return bool(status == "RUNNING")
