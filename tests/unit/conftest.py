"""Hangar's unit tests run without network; hangar.testing.plugin gives them (and the project's
tests) the loopback fixtures: closed_port, listening_port, serve_http."""

import os
import subprocess
import uuid

import pytest


@pytest.fixture(scope="session")
def compose_cli(docker_as_ci_provisions_it: None) -> list[str]:
    """The real compose CLI (`make docker-provision` installs it); a laptop without it skips."""
    try:
        found = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
    except FileNotFoundError:
        found = None
    if found is None or found.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("`docker compose` is missing; `make docker-provision` installs it")
        pytest.skip("`docker compose` is not installed (`make docker-provision` installs it)")
    return ["docker", "compose"]


@pytest.fixture(autouse=True)
def _a_compose_project_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """No unit test reaches a real compose project: not a developer's running `make dev`, nor,
    inside the dev container, the container's own (a `make down` path there took it down, and
    the `make test-unit` that ran the test with it)."""
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", f"hangar-unit-{uuid.uuid4().hex[:8]}")
