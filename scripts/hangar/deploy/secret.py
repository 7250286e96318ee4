"""`hangar secret`: store a declared secret's value in a stage's Secrets Manager (LocalStack for
`local`). The value comes from stdin or a hidden prompt, never from the command line, where the
shell's history and the process list would keep it."""

import argparse
import getpass
import os
import sys
from typing import Any

from hangar.core.console import info
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.deploy import declared_secrets
from hangar.deploy.stage_access import StageAccess


def read_value(variable: str, stage: str) -> str:
    """A hidden prompt at a terminal; otherwise stdin, as `printf %s "$V" | make secret` sends."""
    if sys.stdin.isatty():
        description = declared_secrets.require_declared(variable)
        return getpass.getpass(f"{variable} ({description}) for stage {stage}: ")
    return sys.stdin.read()


def cmd_secret(args: argparse.Namespace) -> int:
    if not args.name:
        raise HangarError(
            "which secret? `make secret` needs NAME.",
            hint=f"declared: {', '.join(contract().secrets) or 'none'}; "
            "e.g. make secret STAGE=local NAME=STRIPE_API_KEY",
        )
    access = StageAccess.resolve(args.stage, "secret", os.environ)
    # Refused before the prompt: nobody types a value that is then thrown away.
    declared_secrets.require_declared(args.name)
    value = read_value(args.name, access.stage)
    name = declared_secrets.store(access.client("secretsmanager"), access.stage, args.name, value)
    info(f"Stored {args.name} in {name} ({access.where}); deploy the stage for tasks to read it")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "secret",
        help="store a declared secret's value (stdin or a hidden prompt) in a stage",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "--stage", help="the stage whose Secrets Manager holds it (local: LocalStack)"
    )
    parser.add_argument("--name", help="the variable, as [tool.hangar.secrets] declares it")
    parser.set_defaults(func=cmd_secret)
