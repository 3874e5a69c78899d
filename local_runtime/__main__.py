from local_runtime.cli import _entrypoint

_entrypoint()
