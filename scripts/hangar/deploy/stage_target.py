"""What `hangar deploy` (and `hangar rollback`) deploy to, and its inputs, checked before anything
changes: the stage, the image tag (a commit's full SHA), the certificate, CI's image archive.

A step that needs what LocalStack (free) does not emulate raises `Skipped`; `skippable` reports
the reason instead of failing.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hangar.core.aws_clients import aws_client
from hangar.core.console import step, warn
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.git import has_uncommitted_changes, head_commit
from hangar.core.stages import HTTPS_REQUIRED_STAGES, LOCAL_STAGE, STAGES, check_stage
from hangar.deploy import image as image_module

# The image of a commit is tagged with its full SHA: an abbreviation can become ambiguous, and any
# other name says nothing about what was built.
FULL_SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")


class Skipped(Exception):
    """A step that cannot run here; the message is the reason the user is shown."""


@dataclass(frozen=True)
class Target:
    stage: str
    image_tag: str
    region: str
    endpoint: str | None  # LocalStack gateway; None means real AWS
    # ACM certificate of the HTTPS listener; None serves the stage over HTTP only.
    certificate_arn: str | None = None
    # CI's built and scanned image (OCI archive); None builds one here when the tag is not pushed.
    image_archive: image_module.ImageArchive | None = None
    # Known once step 2 read it back from the registry; the service stack runs this digest.
    image_digest: str | None = None
    # E-mail address or https:// endpoint subscribed to the stage's alarm topic.
    alarm_subscription: str | None = None

    @property
    def local(self) -> bool:
        return self.endpoint is not None

    def stack_path(self, stack: str) -> str:
        """The CDK CLI's selector for one of the stage's stacks (the Stage is named by the
        stage's resource prefix, `<service>-<stage>`)."""
        return f"{contract().resource_prefix(self.stage)}/{stack}"

    def stack_name(self, stack: str) -> str:
        """CloudFormation name of the stage's `Registry` or `Service` stack."""
        registry, service = contract().stack_names(self.stage)
        return {"Registry": registry, "Service": service}[stack]

    def client(self, service: str) -> Any:
        return aws_client(service, region=self.region, endpoint=self.endpoint)


def resolve_image_tag(stage: str, image_tag: str | None, *, local: bool) -> str:
    """The tag to deploy; refuses what would make a deploy unrepeatable, before anything changes."""
    if not image_tag:
        if local and stage == LOCAL_STAGE:
            return LOCAL_STAGE
        raise HangarError(
            f"stage {stage!r} needs an image tag.",
            hint=f"pass the commit: make deploy STAGE={stage} IMAGE_TAG=$(git rev-parse HEAD)",
        )
    if image_tag == "latest":
        raise HangarError(
            "IMAGE_TAG 'latest' is refused: a moving tag makes a deploy unrepeatable and a "
            "rollback impossible (ECS cannot tell two images behind the same tag apart).",
            hint="pass the git SHA of the commit to deploy: IMAGE_TAG=$(git rev-parse HEAD)",
        )
    if not FULL_SHA_PATTERN.fullmatch(image_tag):
        raise HangarError(
            f"IMAGE_TAG {image_tag!r} is not the full SHA of a commit.",
            hint="pass the 40-character SHA of the commit: IMAGE_TAG=$(git rev-parse HEAD)",
        )
    return image_tag


def resolve_certificate_arn(stage: str, certificate_arn: str | None) -> str | None:
    """The certificate to pass as context; the CDK app checks its form (one place for that rule)."""
    certificate_arn = (certificate_arn or "").strip() or None
    if certificate_arn is None and stage in HTTPS_REQUIRED_STAGES:
        raise HangarError(
            f"stage {stage!r} must serve HTTPS and no certificate was given.",
            hint=f"pass the ACM certificate of the stage's domain: make deploy STAGE={stage} "
            "IMAGE_TAG=<git sha> CERTIFICATE_ARN=arn:aws:acm:<region>:<account>:certificate/<id> "
            "(in GitHub Actions: the CERTIFICATE_ARN variable of the environment)",
        )
    if certificate_arn is not None and stage == LOCAL_STAGE:
        raise HangarError(
            "the local stage cannot use a certificate: LocalStack (free) has no load balancer, "
            "so the local stage serves HTTP only.",
            hint="unset CERTIFICATE_ARN (or drop --certificate-arn) for STAGE=local",
        )
    return certificate_arn


def resolve_image_archive(
    archive: Path | None, scan_report: Path | None
) -> image_module.ImageArchive | None:
    """CI's image: an OCI archive of the pinned platform, deployed only with its own scan report."""
    if archive is None:
        return None
    built = image_module.read_archive(archive)
    image_module.check_platform(built.platform, f"the image in {archive}")
    image_module.check_scan_report(built, scan_report)
    return built


def check_commit_matches(image_tag: str) -> None:
    """An image pushed as <sha> must be built from exactly that commit, with nothing uncommitted."""
    head = head_commit()
    if image_tag != head:
        raise HangarError(
            f"IMAGE_TAG {image_tag} is not the checked-out commit ({head}): the image would carry "
            "the name of a commit it was not built from.",
            hint=f"check out {image_tag} first, or deploy this commit with IMAGE_TAG={head}",
        )
    if has_uncommitted_changes(untracked=False):
        raise HangarError(
            "the working tree has uncommitted changes; they would ship under a commit's tag.",
            hint="commit or stash them, then deploy again",
        )


def require_output(target: Target, outputs: Mapping[str, str], *keys: str) -> None:
    """Missing outputs are expected in LocalStack (unemulated resources), a broken stack on AWS."""
    missing = [key for key in keys if not outputs.get(key)]
    if not missing:
        return
    message = f"the stack has no {', '.join(missing)} output"
    if target.local:
        raise Skipped(f"{message} (LocalStack skips resources it does not emulate)")
    raise HangarError(
        message, hint="synthesize the stage (`make synth`) and check the stack's outputs"
    )


def require_emulated(target: Target, probe: Callable[[], object], service: str) -> None:
    """Raise Skipped when LocalStack answers that `service` is not in its free edition."""
    if not target.local:
        return
    try:
        probe()
    except (ClientError, BotoCoreError) as error:
        raise Skipped(
            f"LocalStack (free) does not emulate {service}: {error}. The stack's resources are "
            "verified by the synth assertions, cdk-nag and cfn-lint instead"
        ) from error


def skippable(title: str, action: Callable[[], Any]) -> Any:
    """Run a step that may not apply here; a skip is reported with its reason, never silent."""
    with step(title):
        try:
            return action()
        except Skipped as reason:
            warn(f"skipped: {reason}")
            return None


def resolve_stage(stage: str | None) -> str:
    """A deploy names its stage: picking one silently could ship to the wrong place."""
    if not stage:
        raise HangarError(
            "which stage? A deploy needs one.",
            hint=f"pass one of {', '.join(STAGES)}: make deploy STAGE=local (LocalStack), or "
            "make deploy STAGE=staging IMAGE_TAG=$(git rev-parse HEAD)",
        )
    return check_stage(stage)
