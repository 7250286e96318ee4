"""Fixtures for the container tests: a provisioned engine and one compose project per test run.

The project name is unique to the run and every host port is a free one, so a developer's own
`hangar` stack (and a LocalStack on 4566) keeps running untouched while these tests run.
"""

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose_project import Compose, free_port

from hangar import docker
from hangar.errors import HangarError
from hangar.paths import ROOT


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


@pytest.fixture(scope="session")
def provisioned() -> dict[str, str]:
    """The engine, plugins and images `hangar docker provision` sets up; its compose variables.

    Under CI provisioning installs and starts the engine itself; on a laptop without an engine the
    tests skip. Where an engine runs, a provisioning error is a test failure, never a skip.
    """
    if os.environ.get("CI") != "true" and not docker.engine_responds():
        pytest.skip(
            "no Docker engine answers `docker info`: start Docker, "
            "or run `hangar docker provision` as root to install one"
        )
    try:
        docker.provision_all()
    except HangarError as error:
        pytest.fail(f"`hangar docker provision` failed: {error}")
    return read_env_file(docker.COMPOSE_ENV_FILE)


@pytest.fixture(scope="session")
def compose(provisioned: dict[str, str]) -> Iterator[Compose]:
    ports = {
        "WEB_PORT": free_port(),
        "DEBUGPY_PORT": free_port(),
        "LOCALSTACK_PORT": free_port(),
    }
    project = Compose(
        project=f"hangar-e2e-{uuid.uuid4().hex[:8]}",
        env={**os.environ, **{name: str(port) for name, port in ports.items()}},
        ports=ports,
    )
    try:
        yield project
    finally:
        project.run("down", "--volumes", "--rmi=local", "--timeout=10", check=False)


@pytest.fixture(scope="session")
def runtime_image(provisioned: dict[str, str]) -> Iterator[str]:
    """The runtime stage built the way CI builds it; its build time is printed for the report."""
    tag = f"hangar-e2e-runtime:{uuid.uuid4().hex[:8]}"
    build_args = [
        arg
        for name in ("PYTHON_IMAGE", "DEPS_SOURCE")
        if name in provisioned
        for arg in ("--build-arg", f"{name}={provisioned[name]}")
    ]
    started = time.monotonic()
    result = subprocess.run(
        ["docker", "build", "--target=runtime", f"--tag={tag}", *build_args, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"runtime image build failed:\n{result.stderr[-4000:]}"
    print(f"\nruntime image {tag} built in {time.monotonic() - started:.1f}s")
    yield tag
    subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, check=False)
