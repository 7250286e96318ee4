"""The deployed stage's tasks as `hangar run-task --stage local` runs them, for Hangar's end-to-end
tests and the project's own (hangar.testing.plugin loads these fixtures): the `local` stage
deployed into the run's compose LocalStack, and the web task served by the runtime image on the
compose network (run-task runs the migration task first, as the deploy does).
"""

import subprocess
import time
from collections.abc import Iterator

import pytest

from hangar.core import ports
from hangar.core.paths import LOCAL_ENV_FILE
from hangar.deploy import local_stage, run_task, task_docker
from hangar.testing.containers import Compose

# What an ALB health check sends: the task's private IP as Host, never an allowed host.
PRIVATE_IP_HOST = "10.0.1.23"


@pytest.fixture(scope="module")
def deployed_stage(compose: Compose) -> Iterator[dict[str, str]]:
    """db and LocalStack healthy, the local stage deployed into them; the developer's
    .hangar/local.env and outputs file (which deploy_local rewrites) restored afterwards."""
    saved = {
        path: path.read_bytes()
        for path in (LOCAL_ENV_FILE, local_stage.OUTPUTS_FILE)
        if path.exists()
    }
    started = time.monotonic()
    compose.run("up", "--detach", "--wait", "db", "localstack", timeout=600)
    print(f"\ndb + localstack healthy in {time.monotonic() - started:.1f}s")
    try:
        yield local_stage.deploy_local(f"http://127.0.0.1:{compose.ports['LOCALSTACK_PORT']}")
    finally:
        for path in (LOCAL_ENV_FILE, local_stage.OUTPUTS_FILE):
            if path in saved:
                path.write_bytes(saved[path])
            else:
                path.unlink(missing_ok=True)


def remove_container(name: str) -> None:
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


def inspect(container: str, template: str) -> str:
    """`docker inspect --format template` of a container."""
    return subprocess.run(
        ["docker", "inspect", "--format", template, container],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def web_task(compose: Compose, deployed_stage: dict[str, str]) -> Iterator[run_task.RunningTask]:
    """The web task, which run-task starts after the migration task (as the deploy runs it)."""
    options = run_task.Options(
        stage="local",
        task="web",
        compose_project=compose.project,
        port=ports.spare_port(),
        detach=True,
    )
    started = time.monotonic()
    try:
        running = run_task.run(options)
        assert isinstance(running, run_task.RunningTask)
        print(f"run-task web healthy in {time.monotonic() - started:.1f}s")
        yield running
    finally:
        for task in ("migration", "web"):
            remove_container(task_docker.container_name(compose.project, task))
