"""Hangar's unit tests run without network; hangar.testing.plugin gives them (and the project's
tests) the loopback fixtures: closed_port, listening_port, serve_http."""

import os
import subprocess

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
