"""Shared code of the bounded execution layer: settings, error taxonomy, models and repositories.

Importing the package has no side effects (no AWS clients, no environment reads), so several functions
can share one process in the local runtime, each with its own environment.
"""
