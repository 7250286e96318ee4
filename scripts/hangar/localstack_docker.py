"""Container mode: the compose service `localstack` (image localstack/localstack:4.14.0 unless
LOCALSTACK_IMAGE says otherwise), started and stopped through docker compose."""

import os
import subprocess
import time

from hangar import console, docker
from hangar.errors import HangarError
from hangar.localstack_endpoint import Endpoint, is_healthy

SERVICE = "localstack"
ENGINE_PROBE_SECONDS = 5.0
POLL_SECONDS = 0.2


def engine_reachable() -> bool:
    """The engine answers quickly: a CLI without a running engine fails here, not half-way up.

    `docker version`, not `docker info --format`, which Debian's docker CLI 26.1 exits 0 from
    when no engine answers.
    """
    return docker.succeeds(
        ["docker", "version", "--format", "{{.Server.Version}}"], timeout=ENGINE_PROBE_SECONDS
    )


def compose_available() -> bool:
    return docker.succeeds(["docker", "compose", "version"], timeout=ENGINE_PROBE_SECONDS)


def docker_usable() -> bool:
    """An engine with the compose plugin answers (container LocalStack, docker `make dev`)."""
    return engine_reachable() and compose_available()


def compose_env(endpoint: Endpoint) -> dict[str, str]:
    # compose.yaml publishes the service on ${LOCALSTACK_PORT:-4566}; LOCALSTACK_IMAGE and
    # LOCALSTACK_AUTH_TOKEN pass through from the caller's environment unchanged.
    return {**os.environ, "LOCALSTACK_PORT": str(endpoint.port)}


def _compose(
    endpoint: Endpoint, *args: str, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # compose_command() adds the env file `hangar docker provision` writes (stand-in images).
        [*docker.compose_command(), *args],
        env=compose_env(endpoint),
        capture_output=capture,
        text=True,
        check=False,
    )


def service_running(endpoint: Endpoint) -> bool:
    """The compose service runs and publishes its gateway on this endpoint's port."""
    result = _compose(endpoint, "port", SERVICE, "4566", capture=True)
    published = result.stdout.strip().rpartition(":")[2]
    return result.returncode == 0 and published == str(endpoint.port)


def up(endpoint: Endpoint, timeout: float) -> None:
    with console.step(f"Starting LocalStack (compose service `{SERVICE}`) on {endpoint.url}"):
        result = _compose(endpoint, "up", "--detach", SERVICE)
        if result.returncode != 0:
            raise HangarError(
                f"`docker compose up {SERVICE}` failed (exit {result.returncode})",
                f"see `docker compose logs {SERVICE}`; "
                "without Docker, HANGAR_LOCALSTACK_MODE=host runs it natively",
            )
        # The gateway itself, polled often: `up --wait` waits for the healthcheck, which runs
        # every few seconds, and LocalStack answers about a second after it starts.
        deadline = time.monotonic() + timeout
        while not is_healthy(endpoint.url, timeout=1.0):
            if time.monotonic() > deadline:
                raise HangarError(
                    f"the `{SERVICE}` container runs but nothing answers on {endpoint.url} "
                    f"after {timeout:.0f}s",
                    f"see `docker compose logs {SERVICE}`; compose.yaml must publish the "
                    f"container's port 4566 on {endpoint.port} (${{LOCALSTACK_PORT:-4566}})",
                )
            time.sleep(POLL_SECONDS)


def down(endpoint: Endpoint) -> None:
    with console.step(f"Stopping the compose service `{SERVICE}`"):
        result = _compose(endpoint, "rm", "--stop", "--force", SERVICE)
        if result.returncode != 0:
            raise HangarError(
                f"`docker compose rm --stop {SERVICE}` failed (exit {result.returncode})",
                "check `docker compose ps`; the engine may have stopped",
            )


def logs(endpoint: Endpoint, follow: bool) -> int:
    return _compose(endpoint, "logs", *(["--follow"] if follow else []), SERVICE).returncode
