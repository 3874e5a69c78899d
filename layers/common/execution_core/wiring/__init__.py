"""Composition roots: one module per function, the only code that builds what a handler uses (ADR 0020).

Each module's ``build()`` runs once per container, at the handler's import (the local runtime applies a
function's environment only while it imports the handler), in one order: settings
(``execution_core.settings``) → clients (``execution_core.aws``) → repositories → services. Services and
repositories receive what they use; none of them builds a client or reads the environment. A module
imports only what its function needs, so a function's cold start pays for nothing another function uses.
"""
