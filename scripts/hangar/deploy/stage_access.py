"""What the day-two commands (status, logs, releases, rollback) share: where a stage's AWS calls
go, and the plain text table they print."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hangar.core.aws_clients import DEFAULT_REGION, aws_client, caller_region
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.stages import LOCAL_STAGE, STAGES, check_stage
from hangar.localstack.endpoint import configured_endpoint


def resolve_endpoint(stage: str, local: bool, environ: Mapping[str, str]) -> str | None:
    """LocalStack's gateway when asked for (or for the `local` stage, which lives nowhere else)."""
    if local or stage == LOCAL_STAGE or environ.get("LOCALSTACK_ENDPOINT", "").strip():
        return configured_endpoint(environ).url
    return None


@dataclass(frozen=True)
class StageAccess:
    """LocalStack for `local` (or with LOCALSTACK_ENDPOINT), else the caller's AWS account."""

    stage: str
    region: str
    endpoint: str | None

    @classmethod
    def resolve(cls, stage: str | None, command: str, environ: Mapping[str, str]) -> "StageAccess":
        if not stage:
            raise HangarError(
                f"which stage? `make {command}` needs one.",
                hint=f"pass STAGE=<one of {', '.join(STAGES)}>, e.g. make {command} STAGE=staging",
            )
        endpoint = resolve_endpoint(check_stage(stage), False, environ)
        # LocalStack serves any region; on AWS the caller's must be the one the stacks are for.
        return cls(stage, DEFAULT_REGION if endpoint else caller_region(environ), endpoint)

    @property
    def local(self) -> bool:
        return self.endpoint is not None

    def client(self, service: str) -> Any:
        return aws_client(service, region=self.region, endpoint=self.endpoint)

    @property
    def where(self) -> str:
        return f"LocalStack at {self.endpoint}" if self.endpoint else f"AWS {self.region}"


def service_stack(access: StageAccess) -> dict[str, Any]:
    """The stage's service stack as CloudFormation describes it; a stage never deployed is a
    one-line error."""
    stack = contract().stack_names(access.stage)[1]
    try:
        described = access.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        raise HangarError(
            f"stage {access.stage} is not deployed: {access.where} has no stack {stack}.",
            hint=f"deploy it first: make deploy STAGE={access.stage}",
        ) from error
    stack_description: dict[str, Any] = described[0]
    return stack_description


def outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def table(rows: Sequence[Sequence[str]]) -> str:
    """Plain text columns padded to the widest cell; the last column is left ragged."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def short_digest(digest: str) -> str:
    """`sha256:` and the first 12 hex digits: enough to tell images apart on one screen."""
    return digest[: len("sha256:") + 12]
