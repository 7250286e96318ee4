"""Which mode `hangar localstack up` picks, probed through a real `docker` executable on PATH."""

import os
import stat
from pathlib import Path

import pytest

from hangar.core.errors import HangarError
from hangar.localstack.commands import choose_mode


def _path_with_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exit_code: int | None
) -> None:
    """PATH holds only a `docker` that exits with `exit_code` (None: no docker at all)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if exit_code is not None:
        docker = bin_dir / "docker"
        # A version on stdout, as an answering engine gives
        # (hangar.core.docker_client.probe_engine).
        docker.write_text(f"#!/bin/sh\necho 27.5.1\nexit {exit_code}\n")
        docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("HANGAR_LOCALSTACK_MODE", raising=False)


def test_auto_picks_docker_when_engine_and_compose_answer(tmp_path, monkeypatch):
    _path_with_docker(tmp_path, monkeypatch, exit_code=0)
    assert choose_mode() == "docker"


@pytest.mark.parametrize("exit_code", [None, 1], ids=["no-docker-cli", "cli-without-engine"])
def test_auto_picks_host_without_a_docker_engine(tmp_path, monkeypatch, exit_code):
    _path_with_docker(tmp_path, monkeypatch, exit_code)
    assert choose_mode() == "host"


def test_environment_forces_host_even_with_docker(tmp_path, monkeypatch):
    _path_with_docker(tmp_path, monkeypatch, exit_code=0)
    monkeypatch.setenv("HANGAR_LOCALSTACK_MODE", "host")
    assert choose_mode() == "host"


def test_argument_wins_over_environment(tmp_path, monkeypatch):
    _path_with_docker(tmp_path, monkeypatch, exit_code=0)
    monkeypatch.setenv("HANGAR_LOCALSTACK_MODE", "host")
    assert choose_mode("docker") == "docker"


def test_forced_docker_without_engine_says_how_to_fix(tmp_path, monkeypatch):
    _path_with_docker(tmp_path, monkeypatch, exit_code=1)
    monkeypatch.setenv("HANGAR_LOCALSTACK_MODE", "docker")
    with pytest.raises(HangarError, match="no Docker engine") as error:
        choose_mode()
    assert "HANGAR_LOCALSTACK_MODE=host" in str(error.value.hint)


def test_unknown_mode_is_rejected(monkeypatch):
    monkeypatch.setenv("HANGAR_LOCALSTACK_MODE", "kubernetes")
    with pytest.raises(HangarError, match="'kubernetes' is not a mode"):
        choose_mode()
    assert os.environ["HANGAR_LOCALSTACK_MODE"] == "kubernetes"
