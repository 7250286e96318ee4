"""The runtime image of one commit: built once for the pinned platform, pushed, deployed by digest.

An image travels as an OCI archive (CI's image job writes one with buildx and scans it; a laptop
deploy builds one the same way). skopeo copies it into a stage's registry with `--preserve-digests`,
so staging and production receive byte-identical manifests, and the digest read back from the
registry after the push is what the task definitions name (`<repository>@sha256:…`).

A stage's registry is its ECR repository on AWS. The free LocalStack has no ECR API, so for the
`local` stage an OCI layout directory under .hangar/registry stands in for it: the same skopeo
copy, the same read-back, the same digest in the task definition.
"""

import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hangar.core import docker_client
from hangar.core.console import info, warn
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT, STATE_DIR

LOCAL_REGISTRY_DIR = STATE_DIR / "registry"
BUILD_TIMEOUT_SECONDS = 30 * 60
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
# What skopeo says when the tag is simply not there (ECR/registries, then an OCI layout).
NOT_FOUND = re.compile(r"manifest unknown|not found|no descriptor found|no such file or directory")


def image_platform() -> str:
    """The contract's image platform, the one setting the build and the task definitions share."""
    return contract().image_platform


@dataclass(frozen=True)
class ImageArchive:
    path: Path
    digest: str  # of the manifest: what a registry stores it under, and what a task pins
    platform: str  # os/architecture from the image config
    image_id: str  # digest of the image config, which Trivy reports as Metadata.ImageID


def read_archive(path: Path) -> ImageArchive:
    """The single-platform image in an OCI archive; anything else is refused with the reason."""
    if not path.is_file():
        raise HangarError(
            f"image archive {path} does not exist.",
            hint="pass the OCI archive CI's image job produced (artifact runtime-image), or "
            "leave IMAGE_ARCHIVE unset to build one here",
        )
    try:
        with tarfile.open(path) as archive:
            index = _json_member(archive, "index.json")
            manifests = index.get("manifests", [])
            if len(manifests) != 1 or manifests[0].get("mediaType") not in MANIFEST_MEDIA_TYPES:
                raise HangarError(
                    f"{path} does not hold exactly one single-platform image manifest.",
                    hint="build one platform without attestations (buildx --platform "
                    f"{image_platform()} --provenance=false)",
                )
            digest = manifests[0]["digest"]
            manifest = _json_member(archive, _blob(digest))
            config_digest = manifest["config"]["digest"]
            config = _json_member(archive, _blob(config_digest))
    except (tarfile.TarError, KeyError, ValueError) as error:
        raise HangarError(f"{path} is not a readable OCI image archive: {error}") from error
    platform = f"{config['os']}/{config['architecture']}"
    return ImageArchive(path, digest, platform, config_digest)


def _blob(digest: str) -> str:
    algorithm, hex_digest = digest.split(":", 1)
    return f"blobs/{algorithm}/{hex_digest}"


def _json_member(archive: tarfile.TarFile, name: str) -> Any:
    member = archive.extractfile(name)
    if member is None:
        raise KeyError(name)
    return json.load(member)


def check_scan_report(archive: ImageArchive, report: Path | None) -> None:
    """The archive must come with the Trivy report of that very image (CI's gate), or no deploy."""
    if report is None or not report.is_file():
        raise HangarError(
            f"no Trivy scan result for {archive.path} ({report or 'none given'}): an image "
            "nobody scanned is not deployed.",
            hint="pass the trivy-report.json that CI's image job wrote next to the archive "
            "(SCAN_REPORT=…)",
        )
    try:
        scanned = json.loads(report.read_text())["Metadata"]["ImageID"]
    except (ValueError, KeyError, TypeError) as error:
        raise HangarError(f"{report} is not a Trivy JSON report: {error}") from error
    if scanned != archive.image_id:
        raise HangarError(
            f"{report} scanned image {scanned}, not the archive's {archive.image_id}.",
            hint="pass the report that was written for this archive",
        )


# --- registries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    """A stage's image repository, as skopeo addresses it."""

    transport: str  # "docker://" (ECR) or "oci:" (the local stand-in layout)
    repository: str  # ECR repository URI, or the layout directory
    auth_file: Path | None = None

    def reference(self, tag: str) -> str:
        return f"{self.transport}{self.repository}:{tag}"

    @classmethod
    def local(cls, stage: str) -> "Registry":
        # Named like the stage's ECR repository it stands in for.
        return cls("oci:", str(LOCAL_REGISTRY_DIR / contract().resource_prefix(stage)))


@dataclass(frozen=True)
class RemoteImage:
    digest: str
    platform: str


def skopeo(registry: Registry | None, *args: str, stdin: str | None = None) -> str:
    if shutil.which("skopeo") is None:
        raise HangarError(
            "pushing an image by digest needs skopeo, which is not installed.",
            hint="install it (Debian/Ubuntu: apt-get install skopeo; macOS: brew install skopeo)",
        )
    env = dict(os.environ)
    if registry is not None and registry.auth_file is not None:
        env["REGISTRY_AUTH_FILE"] = str(registry.auth_file)
    result = subprocess.run(
        ["skopeo", *args], input=stdin, capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise SkopeoError(result.stderr.strip() or f"skopeo {args[0]} failed")
    return result.stdout


class SkopeoError(HangarError):
    pass


def remote_image(registry: Registry, tag: str) -> RemoteImage | None:
    """What the registry holds under `tag`, or None when the tag is not there."""
    try:
        described = json.loads(skopeo(registry, "inspect", "--no-tags", registry.reference(tag)))
    except SkopeoError as error:
        if NOT_FOUND.search(error.message):
            return None
        raise HangarError(f"cannot read {registry.reference(tag)}: {error.message}") from error
    return RemoteImage(described["Digest"], f"{described['Os']}/{described['Architecture']}")


def holds(registry: Registry, tag: str, digest: str) -> bool:
    """Whether the image `digest`, pushed as `tag`, is still there (under `tag`, or beside it where
    a scanned archive was pushed aside: `publish_scanned_aside`)."""
    for name in (tag, aside_tag(tag, digest)):
        found = remote_image(registry, name)
        if found is not None and found.digest == digest:
            return True
    return False


def aside_tag(tag: str, digest: str) -> str:
    return f"{tag}-{digest.removeprefix('sha256:')[:12]}"


def login(registry: Registry, user: str, password: str) -> None:
    host = registry.repository.split("/", 1)[0]
    skopeo(registry, "login", "--username", user, "--password-stdin", host, stdin=password)


def publish(
    registry: Registry,
    tag: str,
    scanned: ImageArchive | None,
    build: Callable[[], ImageArchive],
) -> str:
    """Put the commit's image in the registry as `tag`; returns the digest the services will run.

    Tags are immutable. Without `scanned` (a laptop deploy) a tag that exists is reused, neither
    built nor pushed (a rollback by hand redeploys what it pushed before), and a missing one gets
    the image `build` makes. With `scanned`, CI's scanned archive, that archive is what ships:
    the tag is reused only when it holds exactly that image (`publish_scanned_aside` says what
    happens otherwise). A tag holding an image for another platform is refused either way.
    """
    existing = remote_image(registry, tag)
    if existing is None:
        return _push(registry, tag, scanned or build())
    check_platform(existing.platform, registry.reference(tag))
    if scanned is not None and existing.digest != scanned.digest:
        return publish_scanned_aside(registry, tag, existing, scanned)
    info(f"{registry.reference(tag)} already holds {existing.digest}: not pushing again")
    return existing.digest


def publish_scanned_aside(
    registry: Registry, tag: str, existing: RemoteImage, scanned: ImageArchive
) -> str:
    """The commit's tag holds an image other than the one CI scanned: pushed by hand, or an
    earlier build of the commit (a rollback through CI builds and scans the commit again, and
    builds are not byte-identical). That image is not deployed; the scanned archive is pushed
    beside it, tagged with the commit and its own digest, and ships."""
    aside = aside_tag(tag, scanned.digest)
    warn(
        f"{registry.reference(tag)} holds {existing.digest}, not the scanned archive's "
        f"{scanned.digest}: that image is not deployed; the scanned one ships as "
        f"{registry.reference(aside)}"
    )
    there = remote_image(registry, aside)
    if there is None:
        return _push(registry, aside, scanned)
    if there.digest != scanned.digest:
        raise HangarError(
            f"{registry.reference(aside)} holds {there.digest}, not the scanned archive's "
            f"{scanned.digest}: refusing to deploy an image nobody scanned; nothing was pushed.",
            hint="find who pushed it (CloudTrail, ecr:PutImage) and delete both images from "
            "the repository, then run the deploy again",
        )
    info(f"{registry.reference(aside)} already holds the scanned {scanned.digest}")
    return there.digest


def _push(registry: Registry, tag: str, archive: ImageArchive) -> str:
    check_platform(archive.platform, f"the image in {archive.path}")
    if registry.transport == "oci:":  # skopeo creates the layout, not the folders above it
        Path(registry.repository).parent.mkdir(parents=True, exist_ok=True)
    info(f"$ skopeo copy --preserve-digests oci-archive:{archive.path} {registry.reference(tag)}")
    skopeo(
        registry,
        "copy",
        "--quiet",
        "--preserve-digests",
        f"oci-archive:{archive.path}",
        registry.reference(tag),
    )
    pushed = remote_image(registry, tag)
    if pushed is None or pushed.digest != archive.digest:
        raise HangarError(
            f"{registry.reference(tag)} holds {pushed.digest if pushed else 'nothing'} after the "
            f"push, not the archive's {archive.digest}; refusing to deploy an image nobody scanned."
        )
    info(f"pushed {registry.reference(tag)} = {pushed.digest}")
    return pushed.digest


def check_platform(platform: str, what: str) -> None:
    wanted = image_platform()
    if platform != wanted:
        raise HangarError(
            f"{what} is for {platform}, but the tasks run {wanted} ([tool.hangar] image-platform "
            "in pyproject.toml); nothing was pushed.",
            hint="an image tag is immutable: delete that image from the repository, or deploy "
            "another commit; build images with `make deploy`, which builds for the pinned platform",
        )


# --- the one build ------------------------------------------------------------------------------


def runtime_build_options() -> list[str]:
    """Everything but the tag that makes a build the runtime image: the pinned platform, the
    contract's build arguments, this machine's Dockerfile and dependency route."""
    options = ["--platform", image_platform(), "--target=runtime"]
    options += [f"--build-arg={key}={value}" for key, value in contract().build_args().items()]
    # the Dockerfile, or its stand-in copy offline
    return options + docker_client.app_build_options()


def build_runtime_image(
    tag: str, labels: Mapping[str, str] | None = None, context: Path = ROOT
) -> None:
    """Build the Dockerfile's runtime target into the engine as `tag`: the one runtime build
    (deploy's archive, run-task, the benchmarks and the e2e tests all come through here).
    `context`: another checkout of the project (a test's), else this one."""
    command = ["docker", "buildx", "build", "--progress=plain", *runtime_build_options()]
    command += [f"--label={key}={value}" for key, value in (labels or {}).items()]
    command += ["--tag", tag, "--load", str(context)]
    info("$ " + " ".join(command))
    if subprocess.run(command, cwd=ROOT, timeout=BUILD_TIMEOUT_SECONDS, check=False).returncode:
        raise HangarError(
            f"building the runtime image {tag} failed; the output above says which step broke.",
            hint="make docker-provision (base images, wheelhouse) and try again",
        )


def build_archive(image_tag: str, destination: Path) -> ImageArchive:
    """Build the runtime image for the pinned platform as an OCI archive.

    buildx's own OCI exporter needs a docker-container builder (CI has one); the default `docker`
    driver cannot export, so the image is loaded and skopeo writes the archive from the engine.
    """
    local_reference = f"{contract().service_name}-deploy:{image_tag}"
    build_runtime_image(local_reference, {"org.opencontainers.image.revision": image_tag})
    destination.parent.mkdir(parents=True, exist_ok=True)
    for earlier in destination.parent.glob("*.oci.tar"):  # ~100 MB each: keep the latest only
        earlier.unlink()
    skopeo(
        None, "copy", "--quiet", f"docker-daemon:{local_reference}", f"oci-archive:{destination}"
    )
    # The archive is the image from now on; the build cache keeps the layers for the next build.
    subprocess.run(["docker", "image", "rm", local_reference], capture_output=True, check=False)
    return read_archive(destination)
