"""Container mode: the compose service `localstack` (the pinned image, hangar.core.versions, unless
LOCALSTACK_IMAGE says otherwise), started and stopped through docker compose."""

import os
import subprocess
import time

from hangar.core import console, docker_client
from hangar.core.errors import HangarError
from hangar.localstack.endpoint import Endpoint, is_healthy

SERVICE = "localstack"
ENGINE_PROBE_SECONDS = 5.0
POLL_SECONDS = 0.2


def docker_usable() -> bool:
    """An engine with the compose plugin answers (container LocalStack, docker `make dev`), and
    quickly: a CLI without a running engine fails here, not half-way up."""
    return docker_client.engine_responds(ENGINE_PROBE_SECONDS) and docker_client.compose_available(
        ENGINE_PROBE_SECONDS
    )


def compose_env(endpoint: Endpoint) -> dict[str, str]:
    # compose.yaml publishes the service on ${LOCALSTACK_PORT:-4566}; LOCALSTACK_IMAGE and
    # LOCALSTACK_AUTH_TOKEN pass through from the caller's environment unchanged.
    return {**os.environ, "LOCALSTACK_PORT": str(endpoint.port)}


def _compose(
    endpoint: Endpoint, *args: str, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # compose_command() adds the env file `hangar docker provision` writes (stand-in images).
        [*docker_client.compose_command(), *args],
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
