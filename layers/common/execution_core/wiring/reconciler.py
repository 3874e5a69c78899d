"""The reconciler's composition root (ADR 0020): the recorders' root, plus Step Functions and the adapters."""

from dataclasses import dataclass, fields

from execution_core.aws import aws_client
from execution_core.services.executions import StepFunctionsExecutions
from execution_core.services.reconciler import EffectResolver, Reconciler
from execution_core.wiring.recorder import RecorderRoot, build_recorder_root


@dataclass(frozen=True)
class Root(RecorderRoot):
    reconciler: Reconciler


def build() -> Root:
    shared = build_recorder_root("reconciler")
    reconciler = Reconciler(
        attempts=shared.recorder.attempts,
        recorder=shared.recorder,
        executions=StepFunctionsExecutions(aws_client("stepfunctions")),
        # One attempt and a read timeout above the adapter's own timeout: the schedule is the retry.
        resolver=EffectResolver(aws_client("lambda", read_timeout=60, max_attempts=1)),
    )
    return Root(**{f.name: getattr(shared, f.name) for f in fields(shared)}, reconciler=reconciler)
