"""The pre-commit hooks run what `make lint` runs, command for command."""

import re

import yaml

from hangar.core.paths import ROOT


def lint_commands(makefile: str) -> list[str]:
    """The `lint` target's recipe, with the Makefile's variables spelled out as a shell would."""
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no lint target"
    return [
        line.strip().replace("$(HANGAR)", "$(UV) run --frozen hangar").replace("$(UV)", "uv")
        for line in recipe.group(1).splitlines()
    ]


def hook_entries(config: str) -> list[str]:
    return [hook["entry"] for repo in yaml.safe_load(config)["repos"] for hook in repo["hooks"]]


def uncovered(commands: list[str], entries: list[str]) -> list[str]:
    """Lint commands no hook runs (a hook may leave out the paths: pre-commit passes the files)."""
    return [
        command
        for command in commands
        if not any(command == entry or command.startswith(f"{entry} ") for entry in entries)
    ]


def test_every_lint_command_has_a_hook():
    commands = lint_commands((ROOT / "Makefile").read_text())
    entries = hook_entries((ROOT / ".pre-commit-config.yaml").read_text())

    assert "uv run --frozen hangar check-migrations" in commands
    assert uncovered(commands, entries) == []


def test_a_lint_command_without_a_hook_is_caught():
    makefile = (
        "lint: setup ## lint\n\t$(UV) run --frozen ruff check .\n\t$(UV) run --frozen newtool\n"
    )
    config = "repos:\n- repo: local\n  hooks:\n  - {id: r, entry: uv run --frozen ruff check}\n"

    assert uncovered(lint_commands(makefile), hook_entries(config)) == ["uv run --frozen newtool"]
