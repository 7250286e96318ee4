"""cli.py registers every command itself: each module adds the commands cli.py names for it, and no
other's."""

import argparse
import importlib

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
