"""In-process Lambda: runs the project's real handlers when anything invokes a function on the emulator.

moto only runs Lambda code in Docker; without it, invoke echoes the payload. This module replaces the
single method moto uses to run code (`LambdaFunction._invoke_lambda`, private: moto is pinned, the hook is
`moto_hooks.replace_lambda_invoke` and `tests/local_runtime/test_moto_hooks.py` guards it) with a router that
imports each function's handler once ("cold start") with that function's environment from the template,
then calls it for every invocation, the way a warm Lambda container would.

Handlers must read configuration at import time (docs/architecture.md §2.1: clients and settings are created
once per container). The environment is applied only while a module is imported, under a lock, because several
functions share this process and may run concurrently.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from moto.awslambda.models import LambdaFunction

from local_runtime import moto_hooks, sdk_events
from local_runtime.output import router

_ENVIRON_LOCK = threading.RLock()
_FunctionHandler = Callable[[Any, Any], Any]


@contextmanager
def applied_environment(env: dict[str, str]) -> Iterator[None]:
    """Temporarily overlay `env` on the process environment (serialized: os.environ is process-global).

    An overlay rather than a replacement: the emulator's own threads read os.environ too (MOTO_PORT).
    """
    with _ENVIRON_LOCK:
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class InvocationLog:
    request_id: str
    lines: list[str]


@dataclass
class LocalFunction:
    """One deployed function: where its code is and the environment the template gives it."""

    logical_id: str
    function_name: str
    function_arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    layer_dirs: list[Path]
    timeout_seconds: float
    memory_mb: int
    _module: ModuleType | None = None
    _init_lock: threading.Lock = field(default_factory=threading.Lock)
    cold_starts: int = 0
    invocations: int = 0
    _faults: deque[tuple[str, bool, Callable[[], None] | None]] = field(default_factory=deque)
    invocation_logs: deque[InvocationLog] = field(default_factory=lambda: deque(maxlen=1000))
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def inject_fault(
        self,
        error_type: str,
        times: int = 1,
        *,
        after_handler: bool = False,
        on_fault: Callable[[], None] | None = None,
    ) -> None:
        """Fail the next `times` invocations with `error_type`, as a crash of the function would.

        With `after_handler` the handler runs first (its writes happen) and the invocation fails anyway:
        the "crashed after committing" case that retries must survive. `on_fault` runs when the fault
        fires (e.g. a test flips a kill switch between a failed attempt and its retry).
        """
        self._faults.extend([(error_type, after_handler, on_fault)] * times)

    def clear_faults(self) -> None:
        self._faults.clear()

    def redeploy(self, code_dir: Path) -> None:
        """New code for the next invocation (a cold start), as a deploy gives a new version new containers.

        An invocation already running finishes on the code it started with.
        """
        with self._init_lock:
            self.code_dir = code_dir
            self._module = None

    def _load_handler(self) -> _FunctionHandler:
        with self._init_lock:
            if self._module is None:
                module_file, _, _ = self.handler.rpartition(".")
                path = self.code_dir / f"{module_file.replace('.', '/')}.py"
                module_name = f"_local_lambda_{self.logical_id}_{module_file.replace('.', '_')}"
                spec = importlib.util.spec_from_file_location(module_name, path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load handler module {path}")
                module = importlib.util.module_from_spec(spec)
                for layer_dir in self.layer_dirs:  # a layer's python/ is on sys.path in Lambda
                    if str(layer_dir) not in sys.path:
                        sys.path.insert(0, str(layer_dir))
                router()  # loggers created at import must bind the router, not the raw stdout
                with applied_environment(self.environment):
                    spec.loader.exec_module(module)
                self._module = module
                self.cold_starts += 1
        handler = getattr(self._module, self.handler.rpartition(".")[2])
        return handler  # type: ignore[no-any-return]

    def invoke(
        self, event: Any, *, version: str = "$LATEST", invoked_arn: str | None = None
    ) -> tuple[str, bool]:
        """Run the handler; returns (payload, is_function_error) as the Lambda Invoke API would.

        A version or alias invocation runs the same code (the live alias points at the version published
        from the current code) in the same warm container; only the context says which version ran.
        """
        self.invocations += 1
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault[2] is not None:
            fault[2]()
        if fault is not None and not fault[1]:
            return _fault_payload(fault[0], "injected fault"), True
        try:
            handler = self._load_handler()
        except Exception as exc:
            return _error_payload(exc, "Runtime.ImportModuleError"), True
        payload, errored = self._run(handler, event, version, invoked_arn or self.function_arn)
        if fault is not None:
            return _fault_payload(fault[0], "injected fault after the handler ran"), True
        return payload, errored

    def _captured(self, handler: _FunctionHandler, event: Any, context: LambdaContext) -> Any:
        """Run the handler keeping what it prints, as the invocation's log (newest last)."""
        with router().capture() as sink, sdk_events.invocation(self.logical_id):
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                self.durations.append(time.perf_counter() - started)
                lines = "".join(sink).splitlines()
                self.invocation_logs.append(InvocationLog(context.aws_request_id, lines))

    def _run(self, handler: _FunctionHandler, event: Any, version: str, invoked_arn: str) -> tuple[str, bool]:
        context = LambdaContext(
            function_name=self.function_name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=invoked_arn,
            timeout_seconds=self.timeout_seconds,
            function_version=version,
        )
        # A worker thread lets the runtime enforce the function timeout as Lambda does. The thread
        # cannot be killed; it finishes in the background, which a later invocation never observes.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lambda-{self.logical_id}")
        future = pool.submit(self._captured, handler, event, context)
        try:
            result = future.result(timeout=self.timeout_seconds)
        except FutureTimeout:
            message = f"Task timed out after {self.timeout_seconds:.2f} seconds"
            return _fault_payload("Sandbox.Timedout", message), True
        except sdk_events.SimulatedCrashError:
            # What Lambda reports when the runtime process exits mid-invocation.
            return _fault_payload("Runtime.ExitError", "RequestId: local Error: Runtime exited"), True
        except Exception as exc:
            return _error_payload(exc), True
        finally:
            pool.shutdown(wait=False)
        try:
            return json.dumps(result), False
        except (TypeError, ValueError) as exc:
            return _error_payload(exc, "Runtime.MarshalError"), True


def _fault_payload(error_type: str, message: str) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message})


def _error_payload(exc: BaseException, error_type: str | None = None) -> str:
    """The payload Lambda returns for an unhandled exception (errorType is what Step Functions matches)."""
    return json.dumps(
        {
            "errorType": error_type or type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    )


class InProcessLambdaRouter:
    """Process-wide registry of local functions, hooked into moto's Lambda backend."""

    _installed = False
    _original: Callable[..., tuple[str, bool, str]] | None = None
    _functions: dict[str, LocalFunction] = {}  # noqa: RUF012 - deliberately process-wide

    @classmethod
    def install(cls) -> None:
        if cls._installed:
            return
        router = cls

        def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            target = router._functions.get(self.function_name)
            if target is None and router._original is not None:
                return router._original(self, event)
            if target is None:
                raise LookupError(f"no local code for function {self.function_name}")
            # moto has already decoded the JSON payload; an empty payload arrives as the text "{}".
            payload = {} if event in (None, "{}") else event
            # moto resolved any qualifier: `self` is $LATEST or the published version an alias points at.
            body, errored = target.invoke(payload, version=str(self.version), invoked_arn=self.function_arn)
            return body, errored, ""

        cls._original = moto_hooks.replace_lambda_invoke(_invoke_lambda)
        cls._installed = True

    @classmethod
    def register(cls, function: LocalFunction) -> None:
        cls.install()
        cls._functions[function.function_name] = function

    @classmethod
    def unregister(cls, function_name: str) -> None:
        cls._functions.pop(function_name, None)

    @classmethod
    def get(cls, function_name: str) -> LocalFunction:
        return cls._functions[function_name]
