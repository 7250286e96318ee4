"""hangar.core.docker_client: the one engine probe and the one reader of .hangar/compose.env."""

import os
import stat
from pathlib import Path

import pytest

from hangar.core import docker_client


def fake_docker(directory: Path, script: str) -> None:
    path = directory / "docker"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path


def test_an_answering_engine_gives_its_version(bin_dir: Path) -> None:
    fake_docker(bin_dir, 'echo "27.5.1"')
    assert docker_client.probe_engine().version == "27.5.1"
    assert docker_client.engine_responds()


def test_a_cli_that_exits_0_without_an_engine_is_no_engine(bin_dir: Path) -> None:
    # Debian's docker CLI 26.1 exits 0 from a --format query when no engine answers.
    fake_docker(bin_dir, 'echo "Cannot connect to the Docker daemon" >&2; echo ""')
    probe = docker_client.probe_engine()
    assert probe.version is None
    assert probe.detail == "Cannot connect to the Docker daemon"
    assert not docker_client.engine_responds()


def test_a_failing_cli_says_why(bin_dir: Path) -> None:
    fake_docker(bin_dir, 'echo "permission denied on the socket" >&2; exit 1')
    assert docker_client.probe_engine() == docker_client.EngineProbe(
        None, "permission denied on the socket"
    )


def test_no_cli_is_no_engine(bin_dir: Path) -> None:
    assert docker_client.probe_engine().detail == "the docker CLI is not installed"


def test_a_hanging_cli_is_no_engine(bin_dir: Path) -> None:
    fake_docker(bin_dir, "exec sleep 5")
    assert docker_client.probe_engine(timeout=0.2).version is None


def test_compose_settings_reads_the_provisioned_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "compose.env"
    monkeypatch.setattr(docker_client, "COMPOSE_ENV_FILE", env_file)
    assert docker_client.compose_settings() == {}  # before `hangar docker provision` ran
    env_file.write_text("# header\nLOCALSTACK_IMAGE = hangar-standin/x:1\nDEPS_SOURCE=network\n")
    assert docker_client.compose_settings() == {
        "LOCALSTACK_IMAGE": "hangar-standin/x:1",
        "DEPS_SOURCE": "network",
    }


@pytest.mark.without_docker
def test_a_test_of_the_path_without_docker_finds_no_engine() -> None:
    """tests/conftest.py hides the engine from every test so marked, in `make test` too: that
    is what makes one run prove both modes."""
    assert os.environ["DOCKER_HOST"] == "unix:///nonexistent/docker.sock"
    assert not docker_client.engine_responds()
