"""The pre-commit hooks run the same checks as `make lint`, so a commit that passes them passes CI's lint."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The Makefile's environment prefix for sam: hooks give sam the dev venv on PATH their own way.
SAM_ENV = "$(SAM_ENV) "


def make_variables(text: str) -> dict[str, str]:
    """The Makefile's simple `NAME := value` definitions, each spelled out in terms of the others."""
    variables = dict(re.findall(r"^([A-Z_]+) := ([^\n$]*(?:\$\([A-Z_]+\)[^\n$]*)*)$", text, re.MULTILINE))
    for _ in range(len(variables)):
        for name, value in variables.items():
            variables[name] = re.sub(
                r"\$\(([A-Z_]+)\)", lambda m: variables.get(m.group(1), m.group(0)), value
            )
    return variables


def lint_commands() -> list[str]:
    """The commands of the Makefile's `lint` recipe, with its variables spelled out."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert recipe, "the Makefile has no lint target"
    variables = make_variables(text)
    commands = []
    for line in recipe.group(1).splitlines():
        command = line.strip().lstrip("@").replace(SAM_ENV, "")
        command = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables[m.group(1)], command)
        commands.append(command)
    return commands


def hook_commands() -> list[str]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]


def _tool_and_arguments(command: str) -> list[str]:
    """A command without a leading `env VAR=...` wrapper: what a hook and the Makefile must agree on."""
    words = shlex.split(command)
    if words and words[0] == "env":
        words = words[1:]
        while words and "=" in words[0]:
            words = words[1:]
    return words


def test_every_make_lint_command_has_a_pre_commit_hook() -> None:
    hooks = [_tool_and_arguments(entry) for entry in hook_commands()]
    missing = [command for command in lint_commands() if _tool_and_arguments(command) not in hooks]
    assert not missing, f"make lint runs commands no pre-commit hook runs: {missing}"


def test_every_hook_is_a_make_lint_command() -> None:
    commands = [_tool_and_arguments(command) for command in lint_commands()]
    extra = [entry for entry in hook_commands() if _tool_and_arguments(entry) not in commands]
    assert not extra, f"pre-commit runs checks CI's `make lint` does not: {extra}"


def test_the_hooks_use_only_the_pinned_local_tools() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert all(hook["language"] == "system" for repo in config["repos"] for hook in repo["hooks"])
