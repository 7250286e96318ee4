"""Where `hangar run-task` runs a task: the compose project's network (its LocalStack and `db`), the
Dockerfile's runtime image built for this checkout, and `docker run` with the task definition's
health check, waiting until the container is healthy.
"""

import json
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hangar.core import docker_client, processes
from hangar.core.console import step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.deploy.image import build_runtime_image, runtime_build_options
from hangar.deploy.task_environment import (
    DB_SERVICE,
    HOST_GATEWAY,
    LOCALSTACK_SERVICE,
    ContainerSpec,
    LocalDatabase,
)
from hangar.provision import docker

# Besides the Django project (`[tool.hangar] project-dir`).
IMAGE_INPUTS = ("docker/runtime", "Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock")
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class ComposeServices:
    project: str
    network: str
    localstack_endpoint: str  # as this machine reaches it
    db_running: bool


def _compose(project: str, *args: str) -> str:
    return processes.run([*docker_client.compose_command(project), *args], cwd=ROOT).stdout


def compose_services(project: str) -> ComposeServices:
    output = _compose(project, "ps", "--format", "json", "--status", "running")
    rows = [json.loads(line) for line in output.splitlines() if line.strip().startswith("{")]
    running = {row["Service"]: row for row in rows}
    localstack = running.get(LOCALSTACK_SERVICE)
    if localstack is None:
        raise HangarError(
            f"the compose project {project!r} runs no `{LOCALSTACK_SERVICE}` service; the task's "
            "container reaches LocalStack by that name on the compose network.",
            hint="start it and deploy the stage into it: `make localstack-up` (Docker mode) then "
            "`make deploy-local`, or pass --compose-project for another compose project",
        )
    published = [
        p["PublishedPort"]
        for p in localstack.get("Publishers") or []
        if p.get("TargetPort") == 4566 and p.get("PublishedPort")
    ]
    if not published:
        raise HangarError(f"the `{LOCALSTACK_SERVICE}` container publishes no port for 4566")
    return ComposeServices(
        project=project,
        network=_network_of(localstack["Name"], project),
        localstack_endpoint=f"http://127.0.0.1:{published[0]}",
        db_running=DB_SERVICE in running,
    )


def _network_of(container: str, project: str) -> str:
    inspected = processes.run(
        ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container]
    ).stdout
    networks = sorted(json.loads(inspected))
    default = f"{project}_default"
    return default if default in networks else networks[0]


def ensure_db(project: str) -> None:
    with step(f"Start the compose service `{DB_SERVICE}` (project {project})"):
        _compose(project, "up", "--detach", "--wait", DB_SERVICE)


def compose_database(project: str) -> LocalDatabase:
    config = json.loads(_compose(project, "config", "--format", "json"))
    environment = config["services"][DB_SERVICE].get("environment", {})
    return LocalDatabase(
        host=DB_SERVICE,
        port="5432",
        name=environment.get("POSTGRES_DB") or environment.get("POSTGRES_USER", "postgres"),
        user=environment.get("POSTGRES_USER", "postgres"),
        password=environment.get("POSTGRES_PASSWORD", ""),
        described_as=f"compose service `{DB_SERVICE}`",
    )


def image_inputs_fingerprint(build_options: Sequence[str]) -> str:
    listed = processes.run(
        [
            "git",
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            contract().project_dir,
            *IMAGE_INPUTS,
        ],
        cwd=ROOT,
    ).stdout
    parts: list[str | bytes] = [json.dumps(list(build_options))]
    for name in sorted(set(filter(None, listed.split("\0")))):
        path = ROOT / name
        if path.is_file():
            parts += [name, path.read_bytes()]
    stamp = docker.WHEELHOUSE_DIR / ".input-hash"
    if "--build-arg=DEPS_SOURCE=wheelhouse" in build_options and stamp.exists():
        parts.append(stamp.read_text())
    return docker.fingerprint(*parts)


def runtime_image_tag() -> str:
    """This checkout's (its compose project's): another checkout's build never replaces it."""
    return f"{docker_client.compose_project()}-runtime:local"


def ensure_runtime_image() -> str:
    """The Dockerfile's `runtime` target, rebuilt only when its inputs changed."""
    tag = runtime_image_tag()
    input_hash = image_inputs_fingerprint(runtime_build_options())
    if docker.is_current(tag, input_hash):
        return tag
    with step(f"Build {tag} (Dockerfile target runtime)"):
        build_runtime_image(tag, {docker.INPUT_HASH_LABEL: input_hash})
    return tag


def container_name(project: str, task: str) -> str:
    return f"{project}-run-task-{task}"


def health_check_arguments(health_check: Mapping[str, Any] | None) -> list[str]:
    """The task definition's health check as `docker run` flags.

    Without one, ECS ignores the image's HEALTHCHECK (the ALB's target health decides instead),
    so it is switched off here too: otherwise the worker, which serves no HTTP, would turn
    unhealthy locally while running fine on ECS.
    """
    if not health_check:
        return ["--no-healthcheck"]
    kind, *command = health_check["Command"]
    shell = command[0] if kind == "CMD-SHELL" else " ".join(command)
    arguments = [f"--health-cmd={shell}"]
    for key, flag, default in (
        ("Interval", "--health-interval", 30),
        ("Timeout", "--health-timeout", 5),
        ("StartPeriod", "--health-start-period", 0),
    ):
        arguments.append(f"{flag}={health_check.get(key, default)}s")
    arguments.append(f"--health-retries={health_check.get('Retries', 3)}")
    return arguments


def docker_run_command(
    spec: ContainerSpec,
    *,
    image: str,
    name: str,
    network: str,
    port: int,
    detach: bool,
    host_gateway: bool,
) -> list[str]:
    """Values travel in the environment of `docker run`, never in its argv (visible in `ps`)."""
    command = ["docker", "run", "--rm", f"--name={name}", f"--network={network}"]
    command += ["--label=org.hangar.run-task=true", "--detach" if detach else "--init"]
    if spec.container_port is not None:
        command.append(f"--publish=127.0.0.1:{port}:{spec.container_port}")
    if host_gateway:
        command.append(f"--add-host={HOST_GATEWAY}:host-gateway")
    command += health_check_arguments(spec.health_check)
    command += [f"--env={variable}" for variable in sorted(spec.variables)]
    return [*command, image, *(spec.command or [])]


def wait_until_started(name: str, health_url: str | None, timeout: float = START_TIMEOUT) -> None:
    """Until the task's health check passes, or, without one, `health_url` answers 200 (as the
    ALB's target health check would), or, for a task serving nothing, the container runs."""
    deadline = time.monotonic() + timeout
    template = "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
    while time.monotonic() < deadline:
        result = subprocess.run(
            ["docker", "inspect", "--format", template, name],
            capture_output=True,
            text=True,
            check=False,
        )
        state, _, health = result.stdout.strip().partition(" ")
        if result.returncode != 0 or state in ("exited", "dead"):
            raise HangarError(
                f"the container {name} stopped during start-up.",
                hint="run again without --detach to see its output",
            )
        if health == "unhealthy":
            break
        if health == "healthy" or (state == "running" and not health and answers(health_url)):
            return
        time.sleep(1)
    logs = subprocess.run(["docker", "logs", "--tail=30", name], capture_output=True, text=True)
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)
    raise HangarError(
        f"{name} did not become healthy (waited up to {timeout:.0f}s); its last output:\n"
        f"{logs.stdout}{logs.stderr}",
        hint="fix what the output names; the container was removed",
    )


def answers(url: str | None) -> bool:
    if url is None:
        return True
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our 127.0.0.1 URL
            return int(response.status) == 200
    except OSError:
        return False


def container_exists(name: str) -> bool:
    return processes.succeeds(["docker", "container", "inspect", name])
