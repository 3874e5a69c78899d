"""samconfig.toml read as the deploy tests need it: each environment's parameter overrides, and the same
values with their placeholders replaced as an operator would replace them (shared by the infrastructure
tests)."""

from __future__ import annotations

import shlex
import tomllib

from local_runtime.template import PROJECT_ROOT

ENVIRONMENTS = {"default": "dev", "staging": "staging", "prod": "prod"}
PLACEHOLDER = "REPLACE-ME"
# A placeholder that is a choice, not a name: filled with the choice an operator in its own account makes.
CHOICES = {"ManageApiGatewayAccountRole": "true"}


def overrides(environment: str) -> dict[str, str]:
    config = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    text = config[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in shlex.split(text))


def filled(environment: str) -> dict[str, str]:
    """The environment's values, placeholders replaced as an operator would replace them."""
    values = overrides(environment)
    return {k: CHOICES[k] if v == PLACEHOLDER else v.replace(PLACEHOLDER, "acme") for k, v in values.items()}
