"""The failure recorder's composition root (ADR 0020): the recorders' shared root (``wiring/recorder.py``)."""

from execution_core.wiring.recorder import RecorderRoot, build_recorder_root


def build() -> RecorderRoot:
    return build_recorder_root("execution_failure_recorder")
