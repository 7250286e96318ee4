"""Which image the task definitions run: the platform it is built for, and the digest deployed.

The platform is part of the contract (`[tool.hangar] image-platform`, read by hangar.core.contract)
that
the image build reads too, so an image and the tasks that run it cannot disagree. The digest
(`-c imageDigest=`) is what `hangar deploy` read back from the registry after the push: the task
definitions then name `<repository>@sha256:…`, the exact image that was scanned, never whatever a
tag points to.
"""

import re

from aws_cdk import aws_ecs as ecs

from hangar.core.contract import Contract

DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
# The platforms Fargate runs, as `docker buildx --platform` names them.
CPU_ARCHITECTURES = {
    "linux/amd64": ecs.CpuArchitecture.X86_64,
    "linux/arm64": ecs.CpuArchitecture.ARM64,
}


class ImageSettingError(ValueError):
    """A bad image digest; the message says what to pass instead."""


def runtime_platform(contract: Contract) -> ecs.RuntimePlatform:
    """What every task definition declares, so Fargate runs the image on its own CPU (the contract
    has checked that the platform is one Fargate runs)."""
    return ecs.RuntimePlatform(
        cpu_architecture=CPU_ARCHITECTURES[contract.image_platform],
        operating_system_family=ecs.OperatingSystemFamily.LINUX,
    )


def image_digest_for(image_digest: str | None) -> str | None:
    """The digest to deploy (`sha256:<64 hex>`), or None: the image by its tag (synth, diff)."""
    if not image_digest:
        return None
    if not DIGEST_PATTERN.fullmatch(image_digest):
        raise ImageSettingError(
            f"imageDigest {image_digest!r} is not an image digest: pass -c imageDigest=sha256:<64 "
            "hex> (what the registry reports for the pushed image)"
        )
    return image_digest
