"""cli.py registers every command itself: each module adds the commands cli.py names for it, and no
other's."""

import argparse
import importlib
import subprocess
import sys

from hangar.cli import COMMAND_MODULES, build_parser


def registered_by(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    importlib.import_module(module).register(subparsers)
    return set(subparsers.choices)


def test_no_command_is_registered_behind_cli_pys_back() -> None:
    by_module = {module: registered_by(module) for module in COMMAND_MODULES}
    everything = [name for names in by_module.values() for name in names]
    assert len(everything) == len(set(everything)), f"registered twice: {by_module}"
    assert by_module == {module: set(names) for module, names in COMMAND_MODULES.items()}
    subparsers = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    assert set(subparsers.choices) == set(everything)


def test_a_command_imports_its_own_module_alone() -> None:
    """`hangar dev` starts without boto3 (about a second of CPU once every module
    was imported at each start); help, and a name no module registers, still list every command."""
    check = (
        "import sys; from hangar import cli\n"
        "parser = cli.build_parser(sys.argv[1:])\n"
        "choices = next(a for a in parser._actions if a.dest == 'command').choices\n"
        "print(sorted(choices), 'boto3' in sys.modules)"
    )

    def started(*argv: str) -> str:
        ran = subprocess.run(
            [sys.executable, "-c", check, *argv], capture_output=True, text=True, check=True
        )
        return ran.stdout.strip()

    assert started("dev", "--detach") == f"{sorted(COMMAND_MODULES['hangar.devloop.dev'])} False"
    everything = sorted(name for names in COMMAND_MODULES.values() for name in names)
    for argv in [("--help",), ("no-such-command",)]:
        assert started(*argv) == f"{everything} True"
