"""Step 2 of `hangar deploy`: the commit's runtime image in the stage's registry (ECR on AWS, the
local OCI-layout registry in LocalStack), pushed from CI's archive or built here; and, for a
rollback, whether the registry still holds a release's image (hangar.deploy.image does the work).
"""

import base64
import tempfile
from collections.abc import Mapping
from pathlib import Path

from hangar.core import docker_client, stage_interface
from hangar.core.console import info
from hangar.core.errors import HangarError
from hangar.core.paths import STATE_DIR
from hangar.core.stages import LOCAL_STAGE
from hangar.deploy import image as image_module
from hangar.deploy.stage_target import Skipped, Target, require_output


def push_image(target: Target, registry_outputs: Mapping[str, str]) -> str:
    """Put the commit's image in the stage's registry; returns the digest the tag holds there."""
    if target.image_tag == LOCAL_STAGE:
        raise Skipped(
            "no IMAGE_TAG: the local stage deploys without an image; pass IMAGE_TAG=$(git "
            "rev-parse HEAD) to build, push and deploy this commit's image by digest"
        )
    with tempfile.TemporaryDirectory(prefix="hangar-registry-auth-") as auth_dir:
        registry = stage_registry(target, registry_outputs, Path(auth_dir) / "auth.json")
        # CI's scanned archive ships; a laptop deploy builds one unless the tag is already there.
        return image_module.publish(
            registry, target.image_tag, target.image_archive, lambda: build(target)
        )


def stage_registry(
    target: Target, registry_outputs: Mapping[str, str], auth_file: Path
) -> image_module.Registry:
    """ECR on AWS (logged in for this deploy only); the local OCI-layout registry in LocalStack."""
    if target.local:
        info("LocalStack (free) has no ECR API: the local OCI-layout registry stands in for it")
        return image_module.Registry.local(target.stage)
    require_output(target, registry_outputs, stage_interface.REPOSITORY_URI)
    registry = image_module.Registry(
        "docker://", registry_outputs[stage_interface.REPOSITORY_URI], auth_file
    )
    token = target.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    image_module.login(registry, user, password)
    return registry


def build(target: Target) -> image_module.ImageArchive:
    """A laptop deploy (no CI archive): the same build CI does, for the pinned platform."""
    if not docker_client.engine_responds():
        raise HangarError(
            "building the image needs Docker, and no Docker engine answers.",
            hint="start Docker (as root on Debian: `hangar docker provision`), then deploy again",
        )
    destination = STATE_DIR / "images" / f"{target.image_tag}.oci.tar"
    return image_module.build_archive(target.image_tag, destination)


def image_in_registry(target: Target, registry_outputs: Mapping[str, str]) -> str:
    """The repository, once it is known to hold the release's image (a lifecycle rule or a person
    may have deleted it)."""
    assert target.image_digest is not None
    with tempfile.TemporaryDirectory(prefix="hangar-registry-auth-") as auth_dir:
        registry = stage_registry(target, registry_outputs, Path(auth_dir) / "auth.json")
        if not image_module.holds(registry, target.image_tag, target.image_digest):
            raise HangarError(
                f"{registry.reference(target.image_tag)} no longer holds {target.image_digest}: "
                "nothing to roll back to without a rebuild.",
                hint="pick another release (make releases), or deploy that commit again through CI",
            )
    return registry.repository
