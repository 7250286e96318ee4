"""`hangar`: the one entry point behind every Makefile target.

Each command lives in its own module and registers its sub-parser here; `make help` names the
target, `hangar <command> --help` explains its options.
"""

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, TypeGuard

from hangar.core.contract import ContractError
from hangar.core.errors import HangarError

if TYPE_CHECKING:
    from botocore.exceptions import BotoCoreError, ClientError

# Each command's module, which exposes `register(subparsers)` and adds exactly these commands with
# `set_defaults(func=...)`: a Makefile target names the command, this names the module that runs it.
COMMAND_MODULES = {
    "hangar.adopt.init": ("init",),
    "hangar.adopt.upgrade": ("upgrade",),
    "hangar.localstack.commands": ("localstack", "aws"),
    "hangar.deploy.stacks": ("synth", "cfn-execution-policy", "diff"),
    "hangar.deploy.local_stage": ("deploy-local", "destroy-local"),
    "hangar.devloop.dev": ("dev", "down", "logs", "shell", "manage", "schedule"),
    "hangar.provision.docker": ("docker",),
    "hangar.deploy.stage": ("deploy",),
    "hangar.aws.github_oidc": ("bootstrap-aws",),
    "hangar.devloop.doctor": ("doctor",),
    "hangar.provision.lint_tools": ("check-migrations", "lint-workflows", "lint-imports"),
    "hangar.provision.python_lint": ("ruff", "typecheck"),
    "hangar.provision.audit": ("audit",),
    "hangar.provision.toolchain": ("node", "test-db"),
    "hangar.bench.run": ("bench",),
    "hangar.deploy.run_task": ("run-task",),
    "hangar.deploy.costs": ("costs",),
    "hangar.deploy.remote_shell": ("remote-shell",),
    "hangar.deploy.status": ("status",),
    "hangar.deploy.stage_logs": ("stage-logs",),
    "hangar.deploy.releases": ("releases",),
    "hangar.deploy.rollback": ("rollback",),
    "hangar.deploy.secret": ("secret",),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of the command `argv` names, from its module alone; of every command without
    one (help, --version) or for a name no module registers (argparse lists the choices).

    A command imports only what it runs: `hangar dev` no boto3, `hangar init` no CDK driver.
    Importing every module cost each start about half a second of CPU more (docs/performance.md)."""
    parser = argparse.ArgumentParser(prog="hangar", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = argv[0] if argv else None  # the command comes first: `hangar dev --detach`
    modules = [name for name, commands in COMMAND_MODULES.items() if named in commands]
    for name in modules or COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def installed_version() -> str:
    """The `hangar` distribution's version (scripts/pyproject.toml, CHANGELOG.md beside it)."""
    try:
        return version("hangar")
    except PackageNotFoundError:  # the dev image runs the checkout's scripts/ from PYTHONPATH
        return "(not installed: run from source)"


def is_aws_error(error: Exception) -> "TypeGuard[BotoCoreError | ClientError]":
    """An error of botocore's: only possible once the command imported it (build_parser)."""
    exceptions = sys.modules.get("botocore.exceptions")
    return exceptions is not None and isinstance(
        error, exceptions.BotoCoreError | exceptions.ClientError
    )


EXPIRED_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"}
)


def aws_error(error: "BotoCoreError | ClientError") -> HangarError:
    """One line for an AWS failure no command handled: what failed and what to do, no traceback."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
        TokenRetrievalError,
        UnauthorizedSSOTokenError,
    )

    from hangar.core.aws_clients import ACCESS_DENIED_CODES

    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return HangarError(
            f"cannot reach AWS: {error}",
            hint="for LocalStack start it (`make localstack-up`) or check LOCALSTACK_ENDPOINT or "
            "HANGAR_LOCALSTACK_PORT; for AWS check the network and AWS_REGION",
        )
    if isinstance(
        error,
        NoCredentialsError
        | PartialCredentialsError
        | TokenRetrievalError
        | UnauthorizedSSOTokenError,
    ):
        return HangarError(
            f"no usable AWS credentials: {error}",
            hint="sign in (e.g. `aws sso login`, or set AWS_PROFILE), then run it again",
        )
    if isinstance(error, NoRegionError):
        return HangarError(f"{error}", hint="set AWS_REGION, e.g. AWS_REGION=us-east-1")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in ACCESS_DENIED_CODES:
            return HangarError(
                f"AWS denied the call: {error}",
                hint="the role or user lacks this permission: `make status`, `make logs STAGE=` "
                "and `make releases` need the stage's read-only role (hangar-readonly-<stage>), "
                "a deploy or rollback its deploy role; `make bootstrap-aws` brings both up to "
                "date (hangar.aws.github_oidc grants what each calls)",
            )
        if code in EXPIRED_CREDENTIAL_CODES:
            return HangarError(
                f"AWS rejected the credentials: {error}",
                hint="sign in again (e.g. `aws sso login`), then run it again",
            )
    return HangarError(f"AWS call failed: {error}", hint="read the message; nothing was retried")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a user error is one line and status 1. Ctrl-C and SIGTERM are handled by
    the entry point (hangar.__main__), which imports this module."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        try:
            return int(args.func(args) or 0)
        except ContractError as error:  # a user's [tool.hangar] entry: what to write is the fix
            raise HangarError(str(error), hint="edit [tool.hangar] in pyproject.toml") from error
        except Exception as error:
            if not is_aws_error(error):
                raise
            raise aws_error(error) from error
    except HangarError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    from hangar.__main__ import main as entry

    sys.exit(entry())
