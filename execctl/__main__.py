from execctl.cli import _entrypoint

_entrypoint()
