"""`hangar docker provision`: a Docker engine, the compose/buildx plugins and the pinned images.

On a laptop with Docker this only checks. On a bare CI machine (root, Debian, no registry access) it
installs and starts the engine, fetches the compose v2 and buildx plugins from Debian trixie, and
builds local stand-ins for the pinned images that cannot be pulled. Compose and the Dockerfile read
the image references it chose from .hangar/compose.env, so neither knows which path was taken.
"""

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from textwrap import shorten

from hangar.core import docker_client
from hangar.core.console import info, step
from hangar.core.docker_client import (
    APP_DOCKERFILE,
    COMPOSE_ENV_FILE,
    DOCKER_SOCKET,
    PYTHON_IMAGE_VARIABLE,
    STANDIN_DOCKERFILE,
    dockerfile_base,
    engine_responds,
)
from hangar.core.errors import HangarError
from hangar.core.locks import exclusive
from hangar.core.paths import LOCALSTACK_LOCK, PROJECT_UV, ROOT, STATE_DIR
from hangar.core.processes import run, succeeds
from hangar.core.versions import (
    LOCALSTACK_IMAGE,
    LOCALSTACK_VERSION,
    NODE_VERSION,
    POSTGRES_MAJOR,
    UV_VERSION,
)
from hangar.provision.toolchain import node_package

DOCKERD_LOG = STATE_DIR / "dockerd.log"
TRIXIE_APT_DIR = STATE_DIR / "apt-trixie"
PLUGINS_DIR = Path.home() / ".docker" / "cli-plugins"
# The stand-ins' recipes, shipped in the package: a repository that installs it has no copy.
STANDIN_DIR = Path(__file__).resolve().parent / "standins"
WHEELHOUSE_DIR = STATE_DIR / "wheelhouse"
WHEEL_BUILDER_DIR = STATE_DIR / "wheel-builder"
BUILD_LOG_DIR = STATE_DIR / "logs"
# requirement files in the wheelhouse, each the export of these uv.lock groups
WHEELHOUSE_SETS = {
    "runtime": (),
    "dev": ("dev",),
    "devcontainer": ("dev", "infra"),  # the Dockerfile's devcontainer stage
}
# Under the wheelhouse: npm's cache (fill_npm_cache: npm offline in the devcontainer) and
# LocalStack's wheels (the devcontainer's host mode).
NPM_CACHE = "npm-cache"
LOCALSTACK_WHEELS_SUBDIR = "localstack"
# LocalStack's wheels, built once from LOCALSTACK_LOCK for the stand-in image and the wheelhouse
LOCALSTACK_WHEELS = STATE_DIR / "localstack-wheels"
# LocalStack's host-mode runtime for the devcontainer stage: integration tests start their own
DEBIAN_MIRROR = "http://deb.debian.org/debian"
STANDIN_SUITE = "trixie"  # Python 3.13 and PostgreSQL 17, matching the pinned images and majors
INPUT_HASH_LABEL = "org.hangar.input-hash"
ENGINE_START_TIMEOUT = 60.0
PULL_TIMEOUT = 120.0


@dataclass(frozen=True)
class Plugin:
    command: str  # `docker <command> version` proves it works
    package: str  # Debian trixie package that ships the static binary
    binary: str  # file name under cli-plugins


PLUGINS = (
    Plugin("compose", "docker-compose", "docker-compose"),
    Plugin("buildx", "docker-buildx", "docker-buildx"),
)


@dataclass(frozen=True)
class PinnedImage:
    variable: str  # what compose.yaml and the Dockerfile read
    reference: str  # the image real users pull
    standin: str  # local tag built when the reference cannot be pulled


PYTHON = PinnedImage(
    PYTHON_IMAGE_VARIABLE, dockerfile_base("python"), "hangar-standin/python:3.13-slim"
)
LOCALSTACK = PinnedImage(
    "LOCALSTACK_IMAGE", LOCALSTACK_IMAGE, f"hangar-standin/localstack:{LOCALSTACK_VERSION}"
)
POSTGRES = PinnedImage(
    "POSTGRES_IMAGE", f"postgres:{POSTGRES_MAJOR}", f"hangar-standin/postgres:{POSTGRES_MAJOR}"
)


def is_root() -> bool:
    return os.geteuid() == 0


def apt_install(*packages: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


# --- engine -------------------------------------------------------------------------------------


def ensure_engine() -> None:
    if engine_responds():
        info("Docker engine: running")
        return
    if shutil.which("dockerd") is None:
        if not is_root():
            raise HangarError(
                "No Docker engine is installed.",
                hint="install Docker (Docker Desktop, or Docker Engine from your distribution) and "
                "start it; run this as root on a Debian machine to have Hangar install docker.io",
            )
        with step("Install the Docker engine (apt-get install docker.io)"):
            apt_install("docker.io")
    if engine_responds():
        info("Docker engine: running (started by its service manager)")
        return
    if not is_root():
        raise HangarError(
            "The Docker engine is installed but not running.",
            hint="start it (e.g. `sudo systemctl start docker`) and make sure your user may use "
            "the socket (`docker info` must work)",
        )
    start_dockerd()


def start_dockerd() -> None:
    with step(f"Start dockerd in the background (log: {DOCKERD_LOG.relative_to(ROOT)})"):
        DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
        with DOCKERD_LOG.open("ab") as log:
            # A session of its own so dockerd outlives this command and its terminal.
            subprocess.Popen(
                ["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + ENGINE_START_TIMEOUT
        while time.monotonic() < deadline:
            if DOCKER_SOCKET.exists() and engine_responds():
                return
            time.sleep(0.5)
        raise HangarError(
            f"dockerd did not answer within {ENGINE_START_TIMEOUT:.0f}s.",
            hint=f"read {DOCKERD_LOG} for the reason",
        )


# --- CLI plugins ----------------------------------------------------------------------------------


def ensure_plugins() -> None:
    missing = [p for p in PLUGINS if not succeeds(["docker", p.command, "version"])]
    for plugin in PLUGINS:
        if plugin not in missing:
            info(f"docker {plugin.command}: present")
    if not missing:
        return
    with step(
        f"Install the {', '.join(p.command for p in missing)} CLI plugin(s) from Debian trixie"
    ):
        debs = download_trixie_packages([p.package for p in missing])
        PLUGINS_DIR.mkdir(parents=True, exist_ok=True)
        for plugin in missing:
            install_plugin(plugin, debs[plugin.package])


def trixie_apt_options() -> list[str]:
    """apt options for a private trixie package index: the host's own apt setup is never touched."""
    root = TRIXIE_APT_DIR
    return [
        f"-oDir::Etc::SourceList={root / 'sources.list'}",
        "-oDir::Etc::SourceParts=/nonexistent",
        f"-oDir::State={root / 'state'}",
        f"-oDir::State::Status={root / 'state' / 'status'}",
        f"-oDir::Cache={root / 'cache'}",
        "-oAPT::Get::List-Cleanup=0",
    ]


def download_trixie_packages(packages: Sequence[str]) -> dict[str, Path]:
    root = TRIXIE_APT_DIR
    for directory in (
        root / "state" / "lists" / "partial",
        root / "cache" / "archives",
        root / "debs",
    ):
        directory.mkdir(parents=True, exist_ok=True)
    (root / "state" / "status").touch()
    (root / "sources.list").write_text(
        f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {DEBIAN_MIRROR} "
        f"{STANDIN_SUITE} main\n"
    )
    run(["apt-get", *trixie_apt_options(), "update", "-qq"])
    run(["apt-get", *trixie_apt_options(), "download", *packages], cwd=root / "debs")
    found: dict[str, Path] = {}
    for package in packages:
        matches = sorted((root / "debs").glob(f"{package}_*.deb"))
        if not matches:
            raise HangarError(
                f"apt-get download did not produce {package}_*.deb in {root / 'debs'}"
            )
        found[package] = matches[-1]
    return found


def install_plugin(plugin: Plugin, deb: Path) -> None:
    with tempfile.TemporaryDirectory() as unpacked:
        run(["dpkg-deb", "-x", str(deb), unpacked])
        binaries = list(Path(unpacked).rglob(f"cli-plugins/{plugin.binary}"))
        if not binaries:
            raise HangarError(f"{deb.name} does not contain cli-plugins/{plugin.binary}")
        target = PLUGINS_DIR / plugin.binary
        shutil.copy2(binaries[0], target)
        target.chmod(0o755)
    version = run(["docker", plugin.command, "version"]).stdout.strip().splitlines()[0]
    info(f"docker {plugin.command}: installed from {deb.name} ({version})")


# --- pinned images --------------------------------------------------------------------------------


def image_exists(reference: str) -> bool:
    return succeeds(["docker", "image", "inspect", reference])


def image_label(reference: str, label: str) -> str | None:
    result = subprocess.run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            f'{{{{ index .Config.Labels "{label}" }}}}',
            reference,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def image_id(reference: str) -> str:
    return run(["docker", "image", "inspect", "--format", "{{.Id}}", reference]).stdout.strip()


def try_pull(reference: str) -> bool:
    with step(f"Pull {reference}"):
        if succeeds(["docker", "pull", "--quiet", reference], timeout=PULL_TIMEOUT):
            return True
        info(f"{reference} cannot be pulled here; a local stand-in replaces it")
        return False


def resolve(image: PinnedImage, build_standin: Callable[[], str]) -> str:
    """What compose should use: the real image when present or pullable, else a stand-in."""
    if image_exists(image.reference):
        info(f"{image.reference}: present")
        return image.reference
    if image_exists(image.standin) or not try_pull(image.reference):
        return build_standin()
    return image.reference


def fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def files_fingerprint(directory: Path) -> list[bytes]:
    return [path.name.encode() + path.read_bytes() for path in sorted(directory.iterdir())]


def is_current(tag: str, input_hash: str) -> bool:
    """A stand-in is rebuilt only when what it is built from changed (the label records that)."""
    if image_label(tag, INPUT_HASH_LABEL) == input_hash:
        info(f"{tag}: up to date ({INPUT_HASH_LABEL}={input_hash})")
        return True
    return False


# BuildKit's plain progress: "#7 [stage 1/2] RUN …" starts a step, "#7 DONE 13.7s" ends it.
BUILD_STEP = re.compile(r"^(#\d+) (\[([^\]]+ )?\d+/\d+\] |DONE |CACHED|ERROR)")


def docker_build(context: Path, tag: str, build_args: dict[str, str], input_hash: str) -> None:
    """Build with BuildKit's plain progress into a log of its own, showing only each step's start
    and end: provisioning builds side by side, and their whole interleaved output would say
    nothing. A failure shows the log's end."""
    BUILD_LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = BUILD_LOG_DIR / f"{tag.replace('/', '_').replace(':', '_')}.log"
    info(f"building {tag} (output: {log.relative_to(ROOT)})")
    command = ["docker", "build", "--progress=plain", "--tag", tag]
    command += ["--label", f"{INPUT_HASH_LABEL}={input_hash}"]
    for name, value in build_args.items():
        command += ["--build-arg", f"{name}={value}"]
    with (
        log.open("w") as output,
        subprocess.Popen(
            [*command, str(context)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as build,
    ):
        assert build.stdout is not None
        started: set[str] = set()  # the Dockerfile's own steps, not BuildKit's internal ones
        for line in build.stdout:
            output.write(line)
            if (match := BUILD_STEP.match(line)) is None:
                continue
            if match[2].startswith("[") or match[1] in started or match[2] == "ERROR":
                started.add(match[1])
                # tagged: side-by-side builds interleave
                info(f"  {tag}: {shorten(line.rstrip(), width=110, placeholder=' …')}")
    if build.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise HangarError(
            f"Building {tag} failed; the end of {log.relative_to(ROOT)}:\n{tail}",
            hint=f"the whole build output is in {log.relative_to(ROOT)}",
        )


# --- stand-ins: base (python), localstack, postgres -----------------------------------------------

# python:3.13-slim's contract as images built on it use it: Debian, `python`/`python3` 3.13 on PATH,
# venv + ensurepip, CA certificates, useradd.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "passwd")
BASE_IMAGE_CONFIG = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


def require_root(task: str) -> None:
    if not is_root():
        raise HangarError(
            f"{task} needs root, and no registry is reachable to pull the pinned images instead.",
            hint="run `hangar docker provision` as root, or give Docker access to a registry",
        )


def build_python_standin() -> str:
    tag = PYTHON.standin
    input_hash = fingerprint(DEBIAN_MIRROR, STANDIN_SUITE, *BASE_PACKAGES, *BASE_IMAGE_CONFIG)
    if is_current(tag, input_hash):
        return tag
    require_root("Building the Python base image with debootstrap")
    # A new base means a new LocalStack stand-in on it, whose wheels need no image: the host
    # builds them while debootstrap runs (the stand-in's own call waits for them, or reports
    # their failure).
    threading.Thread(target=_quietly, args=(localstack_wheels,), daemon=True).start()
    if shutil.which("debootstrap") is None:
        with step("Install debootstrap"):
            apt_install("debootstrap")
    with (
        step(f"Build {tag} (debootstrap {STANDIN_SUITE} minbase + docker import)"),
        tempfile.TemporaryDirectory(prefix="hangar-rootfs-") as rootfs,
    ):
        debootstrap = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
        try:
            run([*debootstrap, STANDIN_SUITE, rootfs, DEBIAN_MIRROR])
        finally:
            unmount_below(Path(rootfs))
        make_slim_like(Path(rootfs))
        config = [*BASE_IMAGE_CONFIG, f"LABEL {INPUT_HASH_LABEL}={input_hash}"]
        import_rootfs(Path(rootfs), tag, config)
    return tag


def unmount_below(rootfs: Path) -> None:
    """A failed debootstrap leaves /proc and /sys mounted in the rootfs: never delete through."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    targets = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{rootfs}/")]
    for target in sorted(targets, reverse=True):
        subprocess.run(["umount", "--lazy", target], check=False)


def make_slim_like(rootfs: Path) -> None:
    """python:3.13-slim has `python` and `python3` in /usr/local/bin and no apt caches."""
    for name in ("python", "python3"):
        link = rootfs / "usr" / "local" / "bin" / name
        link.unlink(missing_ok=True)
        link.symlink_to("/usr/bin/python3")
    for cache in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        cache.unlink()
    for index in (rootfs / "var" / "lib" / "apt" / "lists").glob("*_*"):
        index.unlink()


def import_rootfs(rootfs: Path, tag: str, config: Sequence[str]) -> None:
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    changes = [arg for line in config for arg in ("--change", line)]
    try:
        run(["docker", "import", *changes, "-", tag], stdin=tar.stdout)
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait()
    if tar.returncode != 0:
        raise HangarError(f"tar of {rootfs} failed (exit {tar.returncode})")


def localstack_requirements() -> str:
    if not LOCALSTACK_LOCK.exists():
        raise HangarError(
            f"{LOCALSTACK_LOCK} is missing; the LocalStack stand-in is built from it.",
            hint="reinstall the hangar package (`uv sync --reinstall-package hangar`)",
        )
    return LOCALSTACK_LOCK.read_text()


def build_localstack_standin(base: str) -> str:
    tag = LOCALSTACK.standin
    recipe = STANDIN_DIR / "localstack"
    requirements = localstack_requirements()
    input_hash = fingerprint(image_id(base), requirements, *files_fingerprint(recipe))
    if is_current(tag, input_hash):
        return tag
    with step(f"Build {tag} (LocalStack {LOCALSTACK_VERSION} from a host-built wheelhouse)"):
        context = STATE_DIR / "standin-context" / "localstack"
        shutil.rmtree(context, ignore_errors=True)
        shutil.copytree(recipe, context)
        link_tree(localstack_wheels(), context / "wheels")
        docker_build(context, tag, {"BASE_IMAGE": base}, input_hash)
    return tag


def build_postgres_standin(base: str) -> str:
    tag = POSTGRES.standin
    recipe = STANDIN_DIR / "postgres"
    input_hash = fingerprint(image_id(base), POSTGRES_MAJOR, *files_fingerprint(recipe))
    if is_current(tag, input_hash):
        return tag
    with step(f"Build {tag} (Debian {STANDIN_SUITE}'s postgresql-{POSTGRES_MAJOR})"):
        docker_build(
            recipe, tag, {"BASE_IMAGE": base, "POSTGRES_MAJOR": POSTGRES_MAJOR}, input_hash
        )
    return tag


# --- wheelhouses ----------------------------------------------------------------------------------


def uv_executable() -> str:
    """The uv `make setup` installed; a pyenv shim named uv may exist but fail for this Python."""
    return str(PROJECT_UV) if PROJECT_UV.exists() else "uv"


# The LocalStack stand-in and the wheelhouse build side by side; the first creates the venv.
_WHEEL_BUILDER_CREATION = threading.Lock()


def ensure_wheel_builder() -> Path:
    """The host venv whose pip builds the wheels, created by the first build that needs it."""
    pip = WHEEL_BUILDER_DIR / "bin" / "pip"
    with _WHEEL_BUILDER_CREATION:
        if not pip.exists():
            # This process's Python, the 3.13 the package requires: a request for "3.13" makes uv
            # download one where no interpreter on PATH answers to the name (pyenv's shims).
            venv = [uv_executable(), "venv", "--quiet", "--seed", "--python", sys.executable]
            run([*venv, str(WHEEL_BUILDER_DIR)])
    return pip


def build_wheels(requirements: Path, wheel_dir: Path) -> None:
    """Wheels for CPython 3.13 on x86_64 Linux, built by a 3.13 pip on the host.

    pip (not `uv pip`) because it can also turn sdist-only dependencies into wheels.
    """
    pip = ensure_wheel_builder()
    wheel_dir.mkdir(parents=True, exist_ok=True)
    run(
        [
            str(pip),
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(requirements),
            "-w",
            str(wheel_dir),
        ]
    )


# The LocalStack stand-in and the wheelhouse both need LocalStack's wheels, side by side.
_LOCALSTACK_WHEELS_BUILD = threading.Lock()


def localstack_wheels() -> Path:
    """LocalStack's locked wheels, built by the first build that needs them, once per lock."""
    input_hash = fingerprint(localstack_requirements())
    with _LOCALSTACK_WHEELS_BUILD:
        if not built_from(LOCALSTACK_WHEELS, input_hash):
            with step("Build LocalStack's wheels on the host (containers cannot reach PyPI)"):
                shutil.rmtree(LOCALSTACK_WHEELS, ignore_errors=True)
                build_wheels(LOCALSTACK_LOCK, LOCALSTACK_WHEELS)
                mark_built(LOCALSTACK_WHEELS, input_hash)
    return LOCALSTACK_WHEELS


# A directory of built files records what it was built from, as a stand-in image's label does.
BUILT_FROM = ".input-hash"


def built_from(directory: Path, input_hash: str) -> bool:
    stamp = directory / BUILT_FROM
    return stamp.exists() and stamp.read_text() == input_hash


def mark_built(directory: Path, input_hash: str) -> None:
    (directory / BUILT_FROM).write_text(input_hash)


def _quietly(build: Callable[[], object]) -> None:
    """A build started ahead of need; the caller that needs it runs it again and reports."""
    with contextlib.suppress(Exception):
        build()


def link_tree(source: Path, destination: Path) -> None:
    """A copy of source's files by hard links (same file system: .hangar), without the stamp."""
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(source, destination, copy_function=os.link, ignore=shutil.ignore_patterns(".*"))


def containers_reach_pypi(python_image: str) -> bool:
    probe = (
        "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=5)"
    )
    return succeeds(["docker", "run", "--rm", python_image, "python3", "-c", probe], timeout=60)


def dockerfile_pin(pattern: str, shown: str) -> str:
    """A version the Dockerfile pins (one place for every image), e.g. UV_VERSION."""
    match = re.search(pattern, APP_DOCKERFILE.read_text(), re.MULTILINE)
    if match is None:
        raise HangarError(f"{APP_DOCKERFILE} has no `{shown}` line")
    return match.group(1)


def pinned_npm_version() -> str:
    """The npm the devcontainer stage installs (its NPM_VERSION build argument)."""
    return dockerfile_pin(r"^ARG NPM_VERSION=(\d+\.\d+\.\d+)", "ARG NPM_VERSION=<version>")


def project_groups() -> set[str]:
    """The dependency groups pyproject.toml defines: Hangar's own repository has `infra`, a
    repository that installs the package gets the CDK through its `cdk` extra instead."""
    document = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(document.get("dependency-groups", {}))


def uv_export(groups: Sequence[str], *options: str) -> list[str]:
    """The command exporting uv.lock's packages of the project and those of `groups` it defines
    as requirements: the workspace's own packages (the project, hangar from scripts/) are not
    wheels to fetch."""
    command = [uv_executable(), "export", "--quiet", "--frozen", "--no-default-groups"]
    defined = project_groups()
    command += [arg for group in groups if group in defined for arg in ("--group", group)]
    return [*command, "--no-emit-workspace", *options]


# A requirement on a wheel file (`uv add --dev ./wheels/hangar-….whl`): its name and version.
LOCAL_WHEEL = re.compile(
    r"^(?:file://)?\S*/(?P<name>[^/-]+)-(?P<version>[^/-]+)-\S+\.whl(?P<markers>.*)$", re.M
)


def by_name(requirements: str) -> str:
    """The export with each wheel file named by its host path replaced by `name==version`: the
    image installs from the wheelhouse (where pip copied the wheel), which has no such path."""
    return LOCAL_WHEEL.sub(
        lambda found: f"{found['name']}=={found['version']}{found['markers']}", requirements
    )


def build_app_wheelhouse() -> None:
    """The app's locked dependencies as wheels, for images built where containers lack PyPI.

    Downloads are verified against uv.lock's hashes on the host; the image installs the
    hash-free export offline (wheels built here from sdists cannot match the sdist hashes).
    The devcontainer stage also gets uv's own wheel, an npm cache of package-lock.json and
    LocalStack's host-mode runtime (hangar/localstack/lock/requirements.txt).
    """
    uv_version = UV_VERSION
    input_hash = fingerprint(
        (ROOT / "uv.lock").read_bytes(),
        (ROOT / "pyproject.toml").read_bytes(),
        (ROOT / "package-lock.json").read_bytes(),
        repr(WHEELHOUSE_SETS),
        uv_version,
        pinned_npm_version(),
        NODE_VERSION,
        localstack_requirements(),
    )
    if built_from(WHEELHOUSE_DIR, input_hash):
        info(f"{WHEELHOUSE_DIR.relative_to(ROOT)}: up to date with uv.lock")
        return
    # Built beside the wheelhouse, then swapped in whole: an image build or a checkout's copy that
    # reads it meanwhile (run-task, the tests' copies) finds the old one or the new, never half.
    building = WHEELHOUSE_DIR.with_name(f"{WHEELHOUSE_DIR.name}.building")
    with (
        step(f"Build the app's wheelhouse in {WHEELHOUSE_DIR.relative_to(ROOT)} from uv.lock"),
        # LocalStack's wheels and npm's cache need nothing from the app's wheels: on a new machine
        # all three wait on downloads, and every Docker test waits for the slowest.
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        localstack = pool.submit(localstack_wheels)
        npm_cache = pool.submit(fill_npm_cache, building)
        with tempfile.TemporaryDirectory() as scratch:
            for name, groups in WHEELHOUSE_SETS.items():
                exported = run(uv_export(groups, "--no-hashes"), cwd=ROOT).stdout
                (building / f"{name}.txt").write_text(by_name(exported))
            # One lock, one version per package: every set's wheels are among the union's.
            union = sorted({group for groups in WHEELHOUSE_SETS.values() for group in groups})
            hashed = Path(scratch) / "all.txt"
            run(uv_export(union, "--output-file", str(hashed)), cwd=ROOT)
            build_wheels(hashed, building)
            uv_requirement = Path(scratch) / "uv.txt"
            uv_requirement.write_text(f"uv=={uv_version}\n")
            build_wheels(uv_requirement, building)
        link_tree(localstack.result(), building / LOCALSTACK_WHEELS_SUBDIR)
        npm_cache.result()
        mark_built(building, input_hash)
        replace_tree(building, WHEELHOUSE_DIR)


def replace_tree(new: Path, destination: Path) -> None:
    """`destination` becomes `new`: two renames, so no reader ever lists a half-built folder."""
    old = destination.with_name(f"{destination.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if destination.exists():
        destination.rename(old)
    new.rename(destination)
    shutil.rmtree(old, ignore_errors=True)


def fill_npm_cache(wheelhouse: Path) -> None:
    """npm's and Node's tarballs, and npm's cache of what `make setup` installs
    (package-lock.json), filled by an install into a scratch directory, into `wheelhouse`."""
    with (
        step("Cache Node, npm and the packages of package-lock.json for npm offline"),
        tempfile.TemporaryDirectory() as scratch,
    ):
        npm_package = f"npm@{pinned_npm_version()}"
        run(["npm", "pack", "--silent", npm_package, "--pack-destination", str(wheelhouse)])
        # Node for the host's architecture, under the name the Dockerfile copies.
        run(["npm", "pack", "--silent", node_package(), "--pack-destination", scratch])
        node = next(Path(scratch).glob("node-linux-*.tgz"))
        node.rename(wheelhouse / f"node-{NODE_VERSION}.tgz")
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(ROOT / name, Path(scratch) / name)
        npm = [
            "npm",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--cache",
            str(wheelhouse / NPM_CACHE),
        ]
        run([*npm, "ci", "--ignore-scripts"], cwd=Path(scratch))


# --- compose ------------------------------------------------------------------------------------


def write_compose_env(images: dict[str, str], deps_source: str) -> None:
    lines = [f"{name}={reference}" for name, reference in images.items()]
    lines.append(f"DEPS_SOURCE={deps_source}")
    if images.get(PYTHON.variable, PYTHON.reference) != PYTHON.reference:
        # compose.yaml's build then reads the copy app_dockerfile() keeps current.
        lines.append(f"APP_DOCKERFILE={STANDIN_DOCKERFILE}")
    if not is_root():
        # The dev image user takes the host user's ids: what it writes to the bind mount is ours.
        lines += [f"USER_UID={os.getuid()}", f"USER_GID={os.getgid()}"]
    header = "# Written by `hangar docker provision`: images and build arguments for compose.yaml."
    docker_client.write_compose_env([header, *lines])
    info(f"wrote {COMPOSE_ENV_FILE}: " + ", ".join(lines))


# --- command ------------------------------------------------------------------------------------


PROVISION_LOCK = STATE_DIR / "provision.lock"


def copy_wheelhouse(destination: Path) -> None:
    """The wheelhouse for another build context (a test's copy of the checkout): hard links where
    the file systems allow, taken while no provisioning rebuilds it."""

    def link_or_copy(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:  # another file system
            shutil.copy2(source, target)

    with exclusive(PROVISION_LOCK):
        shutil.copytree(WHEELHOUSE_DIR, destination, copy_function=link_or_copy)


def provision_all() -> None:
    """Everything compose needs on this machine; idempotent, and only checks where all is there.

    One provisioning at a time per checkout: `.ci/run` provisions while the tests start, and the
    tests that need Docker wait here for it, then find everything in place.
    """
    with exclusive(PROVISION_LOCK):
        _provision_all()


def app_dependencies(python_image: str) -> str:
    """Where the app image's Python dependencies come from: PyPI, or a host-built wheelhouse."""
    with step("Python dependencies for the app image"):
        if containers_reach_pypi(python_image):
            info("containers reach PyPI: the Dockerfile installs from uv.lock over the network")
            return "network"
        info("containers cannot reach PyPI: the Dockerfile installs from a host-built wheelhouse")
        build_app_wheelhouse()
        return "wheelhouse"


def _provision_all() -> None:
    started = time.monotonic()
    with step("Docker engine"):
        ensure_engine()
    with step("Docker CLI plugins"):
        ensure_plugins()
    with step("Pinned images and the app's Python dependencies"):
        python = resolve(PYTHON, build_python_standin)
        # The LocalStack and PostgreSQL stand-ins are built on the Python image and the wheelhouse
        # beside it; none needs another, so they are built side by side (on a new machine each
        # takes a minute or more, and every Docker test waits for all of them).
        with ThreadPoolExecutor(max_workers=3) as pool:
            localstack = pool.submit(resolve, LOCALSTACK, partial(build_localstack_standin, python))
            postgres = pool.submit(resolve, POSTGRES, partial(build_postgres_standin, python))
            dependencies = pool.submit(app_dependencies, python)
        images = {
            PYTHON.variable: python,
            LOCALSTACK.variable: localstack.result(),
            POSTGRES.variable: postgres.result(),
        }
        deps_source = dependencies.result()
    write_compose_env(images, deps_source)
    info(f"Docker provisioned in {time.monotonic() - started:.1f}s")


def provision(args: argparse.Namespace) -> int:
    provision_all()
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    docker = subparsers.add_parser("docker", help="Docker engine, plugins and images for compose")
    commands = docker.add_subparsers(dest="docker_command", required=True, metavar="COMMAND")
    provision_parser = commands.add_parser(
        "provision",
        help="Make `docker compose` work here: engine, compose/buildx plugins, pinned images",
    )
    provision_parser.set_defaults(func=provision)
