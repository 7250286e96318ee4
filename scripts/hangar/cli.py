"""`hangar`: the one entry point behind every Makefile target.

Each command lives in its own module and registers its sub-parser here; `make help` names the
target, `hangar <command> --help` explains its options.
"""

import argparse
import importlib
import sys
from collections.abc import Sequence

from hangar.errors import HangarError

# Modules that expose `register(subparsers)`; each adds its commands with `set_defaults(func=...)`.
COMMAND_MODULES = [
    "hangar.localstack",
    "hangar.infra",
    "hangar.dev",
    "hangar.docker",
    "hangar.deploy",
    "hangar.doctor",
    "hangar.lint_tools",
    "hangar.bench",
    "hangar.run_task",
    "hangar.remote_shell",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hangar", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HangarError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
