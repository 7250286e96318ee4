"""How every command talks to Docker: the one engine probe, and `docker compose` and `docker build`
bound to this checkout and to the choices `hangar docker provision` wrote to .hangar/compose.env
(the one reader of that file). Provisioning itself is hangar.provision.docker.
"""

import hashlib
import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.locks import write_atomically
from hangar.core.paths import ROOT, STATE_DIR, env_file_values, project_file

DOCKER_SOCKET = Path("/var/run/docker.sock")
COMPOSE_ENV_FILE = STATE_DIR / "compose.env"  # image choices and build args; see compose_command()
APP_DOCKERFILE = ROOT / "Dockerfile"
# Where stand-ins replace the Dockerfile's pinned bases: rewritten from it before every build.
STANDIN_DOCKERFILE = STATE_DIR / "Dockerfile.standins"
CONTRACT_HEADER = "# From [tool.hangar] in pyproject.toml, rewritten before every compose command:"
# Set by the dev container (compose.devcontainer.yaml passes on the name its CLI chose) and by the
# tests' throwaway projects; compose itself reads it too.
PROJECT_NAME_VARIABLE = "COMPOSE_PROJECT_NAME"


def dockerfile_base(stage: str) -> str:
    """The image the Dockerfile's `FROM <image> AS <stage>` names: its pin lives there only."""
    dockerfile = project_file("Dockerfile").read_text()
    match = re.search(rf"^FROM (\S+) AS {stage}$", dockerfile, re.MULTILINE)
    if match is None:
        raise HangarError(f"{APP_DOCKERFILE} has no `FROM <image> AS {stage}` line")
    return match.group(1)


# What compose.yaml and the Dockerfile's build read for the Python base
# (hangar.provision.docker.PYTHON).
PYTHON_IMAGE_VARIABLE = "PYTHON_IMAGE"


# --- engine -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineProbe:
    version: str | None  # the engine's version; None when no engine answered
    detail: str  # what the docker CLI said (its last line), for a message when none answered


def probe_engine(timeout: float = 20.0) -> EngineProbe:
    """Ask the engine for its version: the one way every command checks Docker.

    `docker version`, not `docker info --format`, which Debian's docker CLI 26.1 exits 0 from
    when no engine answers; the version must also look like one for the same reason.
    """
    try:
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return EngineProbe(None, "the docker CLI is not installed")
    except (OSError, subprocess.TimeoutExpired) as error:
        return EngineProbe(None, str(error))
    output = (result.stdout + result.stderr).strip()
    version = result.stdout.strip()
    if result.returncode == 0 and version[:1].isdigit():
        return EngineProbe(version, output)
    return EngineProbe(None, output.splitlines()[-1] if output else "no output")


def engine_responds(timeout: float = 20.0) -> bool:
    return probe_engine(timeout).version is not None


def compose_available(timeout: float = 20.0) -> bool:
    try:
        result = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def devcontainer_engine_hint() -> str | None:
    """Why the dev container cannot use the host's engine and what to do (None outside it).

    compose.devcontainer.yaml mounts the host's socket at DOCKER_SOCKET and adds the user to the
    group HANGAR_DOCKER_GID; an explicit DOCKER_HOST is the user's own choice and not judged here.
    """
    if os.environ.get("HANGAR_DEVCONTAINER") != "1" or os.environ.get("DOCKER_HOST"):
        return None
    rebuild = "then rebuild the container (VS Code: Dev Containers: Rebuild Container)"
    if not DOCKER_SOCKET.exists():
        return (
            f"the dev container mounts the host's {DOCKER_SOCKET} and it is not there: "
            f"start Docker on the host, {rebuild}"
        )
    if not os.access(DOCKER_SOCKET, os.R_OK | os.W_OK):
        group = DOCKER_SOCKET.stat().st_gid
        return (
            f"the host's Docker socket is mounted but belongs to group {group}, which this user "
            f"is not in: set HANGAR_DOCKER_GID={group} where VS Code (or `devcontainer up`) "
            f"starts, {rebuild}"
        )
    return f"the host's Docker socket is mounted but no engine answers on it: check it, {rebuild}"


# --- compose and build ---------------------------------------------------------------------


def compose_project(root: Path = ROOT, environ: Mapping[str, str] = os.environ) -> str:
    """This checkout's compose project, so two checkouts (two clones, two worktrees) never share
    a container, network or volume: `<service-name>-<folder>-<hash of the checkout's path>`,
    e.g. hangar-main-3f2a9c, the folder left out where it repeats the service name.

    Every container and network name derives from it (compose's `<project>-<service>-1` and
    `<project>_default`, run-task's `<project>-run-task-<task>`).
    """
    if chosen := environ.get(PROJECT_NAME_VARIABLE, "").strip():
        return chosen
    service = contract().service_name
    folder = re.sub(r"[^a-z0-9]+", "-", root.name.lower()).strip("-")[:24].strip("-")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:6]
    return "-".join([service, *([folder] if folder not in ("", service) else []), digest])


def app_dockerfile() -> Path:
    """The Dockerfile to build the app image from on this machine.

    The real one, unless `provision` chose a stand-in for the pinned Python image: then a copy with
    that one reference replaced, regenerated now so it never lags behind an edited Dockerfile.
    """
    pinned = dockerfile_base("python")
    chosen = compose_settings().get(PYTHON_IMAGE_VARIABLE, pinned)
    if chosen == pinned:
        return APP_DOCKERFILE
    pinned_line = f"FROM {pinned} AS python\n"
    text = APP_DOCKERFILE.read_text()
    write_atomically(STANDIN_DOCKERFILE, text.replace(pinned_line, f"FROM {chosen} AS python\n"))
    return STANDIN_DOCKERFILE


def app_build_options() -> list[str]:
    """`docker build` options for the app image on this machine: its Dockerfile, its deps route."""
    settings = compose_settings()
    options = ["--file", str(app_dockerfile())]
    if "DEPS_SOURCE" in settings:  # a global ARG of the Dockerfile; provision picks the route
        options.append(f"--build-arg=DEPS_SOURCE={settings['DEPS_SOURCE']}")
    return options


def compose_settings() -> dict[str, str]:
    """The choices `provision` wrote to .hangar/compose.env ({} before it ran)."""
    return env_file_values(COMPOSE_ENV_FILE)


def compose_command(project: str | None = None) -> list[str]:
    """`docker compose` bound to this checkout, its compose project (unless `project` names
    another) and the choices `provision` wrote."""
    app_dockerfile()  # compose.yaml may build from the stand-in copy: bring it up to date
    write_contract_settings()  # and reads the contract's values: the same
    command = [
        "docker",
        "compose",
        "--project-directory",
        str(ROOT),
        "--file",
        str(ROOT / "compose.yaml"),
    ]
    for env_file in (ROOT / ".env", COMPOSE_ENV_FILE):
        if env_file.exists():
            command += ["--env-file", str(env_file)]
    return [*command, "--project-name", project or compose_project()]


# runc's cgroup v1 freezer gives up ("unable to freeze") while processes keep appearing in the
# container, as PostgreSQL forks a backend per connection; its own comment calls the freeze "a game
# of chances", and docker reports the failure without trying again. Any other failure is final.
FREEZE_FAILED = "unable to freeze"
PAUSE_ATTEMPTS = 10
PAUSE_RETRY_SECONDS = 0.5


def pause_service(project: str, service: str, env: Mapping[str, str]) -> None:
    """`docker compose pause` one service of `project`: its processes stop answering, as a
    dependency does in an outage, until `docker compose unpause`."""
    command = [*compose_command(project), "pause", service]
    for _ in range(PAUSE_ATTEMPTS):
        result = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode == 0:
            return
        if FREEZE_FAILED not in result.stderr:
            break
        time.sleep(PAUSE_RETRY_SECONDS)
    raise HangarError(
        f"docker compose pause {service} failed: {result.stderr.strip()[-300:]}",
        hint=f"`docker compose -p {project} ps` shows the service's state",
    )


def contract_compose_settings() -> dict[str, str]:
    """What compose takes of `[tool.hangar]` from the CLI: the `worker` profile, which starts the
    worker service, when the app has one. The services read the rest of the contract themselves
    (hangar.devloop.in_project)."""
    return {"COMPOSE_PROFILES": "worker" if contract().worker_command else ""}


def write_compose_env(provisioned: list[str]) -> None:
    """compose.env: what provision chose, then the `[tool.hangar]` section, in one write (test
    workers and compose commands read it while another process rewrites it)."""
    lines = [f"{key}={value}" for key, value in contract_compose_settings().items()]
    write_atomically(COMPOSE_ENV_FILE, "\n".join([*provisioned, CONTRACT_HEADER, *lines]) + "\n")


def write_contract_settings() -> None:
    """Bring compose.env's `[tool.hangar]` section (its last) up to date, keeping what provision
    wrote above it."""
    existing = COMPOSE_ENV_FILE.read_text().splitlines() if COMPOSE_ENV_FILE.exists() else []
    write_compose_env(
        existing[: existing.index(CONTRACT_HEADER)] if CONTRACT_HEADER in existing else existing
    )
