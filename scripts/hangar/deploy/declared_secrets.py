"""The values of the app's declared secrets (`[tool.hangar.secrets]`) in a stage's Secrets Manager.

`make secret` stores one (`store`); `hangar deploy` and deploy-local refuse to change anything while
one has no value (`require_values`), since every task would then fail to start; deploy-local writes
the local stage's values to .hangar/local.env (`values`). Each function takes the stage's
secretsmanager client (LocalStack's for `local`).
"""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hangar.core.contract import contract
from hangar.core.errors import HangarError

NOT_FOUND = "ResourceNotFoundException"


def missing(client: Any, stage: str) -> list[str]:
    """The declared secrets with no current value in the stage, in declaration order. Only
    DescribeSecret: checking that a value exists needs no right to read it."""
    app = contract()
    return [
        variable
        for variable in app.secrets
        if not _has_value(client, app.secret_name(stage, variable))
    ]


def _has_value(client: Any, name: str) -> bool:
    try:
        described = client.describe_secret(SecretId=name)
    except ClientError as error:
        if error.response["Error"]["Code"] == NOT_FOUND:
            return False
        raise _unreadable(name, error) from error
    except BotoCoreError as error:
        raise _unreadable(name, error) from error
    # A secret created without a value, or one whose deletion is scheduled, serves no task.
    current = any(
        "AWSCURRENT" in stages for stages in described.get("VersionIdsToStages", {}).values()
    )
    return current and "DeletedDate" not in described


def require_values(client: Any, stage: str) -> None:
    """Stop, before anything changes, when a declared secret has no value in the stage."""
    if absent := missing(client, stage):
        raise HangarError(
            f"stage {stage} has no value for the declared secret{'s' if len(absent) > 1 else ''} "
            f"{', '.join(absent)}: set {'each' if len(absent) > 1 else 'it'} with "
            f"`make secret STAGE={stage} NAME={absent[0]}` (the value is read from stdin)"
        )


def values(client: Any, stage: str) -> dict[str, str]:
    """Every declared secret's value in the stage (deploy-local's .hangar/local.env)."""
    require_values(client, stage)
    app = contract()
    found = {}
    for variable in app.secrets:
        name = app.secret_name(stage, variable)
        try:
            found[variable] = str(client.get_secret_value(SecretId=name)["SecretString"])
        except (ClientError, BotoCoreError) as error:
            raise _unreadable(name, error) from error
    return found


def require_declared(variable: str) -> str:
    """The declared secret's description; a name the contract does not declare is refused."""
    declared = contract().secrets
    if variable not in declared:
        raise HangarError(
            f"{variable!r} is not a declared secret (declared: {', '.join(declared) or 'none'}).",
            hint=f"declare it first in pyproject.toml: [tool.hangar.secrets] {variable} = "
            "'what it is'",
        )
    return declared[variable]


def store(client: Any, stage: str, variable: str, value: str) -> str:
    """Set a declared secret's value in the stage, creating the secret the first time; returns
    its name."""
    app = contract()
    description = require_declared(variable)
    if not value or "\n" in value.rstrip("\n"):
        raise HangarError(
            f"no value for {variable}: the value is one line on stdin (or at the prompt).",
            hint=f'e.g. printf %s "$VALUE" | make secret STAGE={stage} NAME={variable}',
        )
    name = app.secret_name(stage, variable)
    try:
        try:
            client.put_secret_value(SecretId=name, SecretString=value.rstrip("\n"))
        except ClientError as error:
            if error.response["Error"]["Code"] != NOT_FOUND:
                raise
            client.create_secret(
                Name=name,
                SecretString=value.rstrip("\n"),
                Description=f"{description} ({variable}, [tool.hangar.secrets])",
            )
    except (ClientError, BotoCoreError) as error:
        raise _unreadable(name, error, writing=True) from error
    return name


def _unreadable(name: str, error: Exception, *, writing: bool = False) -> HangarError:
    return HangarError(
        f"cannot {'write' if writing else 'read'} the secret {name}: {error}",
        hint="check the stage's credentials (make doctor), or LocalStack for `local`",
    )
