"""Which docker-mode start is a first one: the one whose database volume does not exist yet.

An interrupted first start kills the database, which was initialising a new volume, and removes
the volumes; a later start stops the database gracefully and keeps its data. The check once asked
whether the project had any volume: LocalStack's outlives `make down` (and `make deploy-local`
makes it before any `make dev`), so an interrupted first `make dev` after it stopped a database
that ignores the stop signal while it initialises, killed it 4 s later and kept the half-made
volume. Real volumes of a compose project of this test's own, and the real `compose config`.
"""

import subprocess
import uuid
from collections.abc import Iterator

import pytest

from hangar.core import docker_client
from hangar.devloop import dev

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"hangar-test-first-start-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(docker_client.PROJECT_NAME_VARIABLE, name)
    yield name
    listed = subprocess.run(
        [
            "docker",
            "volume",
            "ls",
            "--quiet",
            "--filter",
            f"label=com.docker.compose.project={name}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for volume in listed.stdout.split():
        subprocess.run(["docker", "volume", "rm", volume], capture_output=True, check=False)


def create_volume(project: str, volume: str) -> None:
    """As compose creates one: named after the project, labelled with both names."""
    labels = [f"--label=com.docker.compose.project={project}"]
    labels.append(f"--label=com.docker.compose.volume={volume}")
    command = ["docker", "volume", "create", *labels, f"{project}_{volume}"]
    subprocess.run(command, capture_output=True, check=True)


def test_only_the_database_volume_makes_a_start_a_later_one(project: str) -> None:
    env = {docker_client.PROJECT_NAME_VARIABLE: project}
    config = dev.compose_config()
    assert not dev.has_database_volume(env, config), "a project without volumes"

    create_volume(project, "localstack-data")
    assert not dev.has_database_volume(env, config), "LocalStack's volume alone"

    create_volume(project, "db-data")
    assert dev.has_database_volume(env, config)
