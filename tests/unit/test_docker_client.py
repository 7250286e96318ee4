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


# A stand-in engine, and it says so: runc's "unable to freeze" comes from a kernel race (processes
# forking while the cgroup v1 freezer runs) that this machine did not produce on demand, in 60
# pauses of a container forking on every core.
FREEZE_ERROR = (
    "Error response from daemon: Cannot pause container a44e: "
    "OCI runtime pause failed: unable to freeze: unknown"
)


def pausing_docker(bin_dir: Path, failures: int, error: str) -> Path:
    """A `docker` whose first `failures` pauses fail with `error`; it logs its calls (with shell
    builtins alone: `bin_dir` is all of PATH)."""
    calls = bin_dir / "calls"
    fake_docker(
        bin_dir,
        f"n=0; [ -f {calls} ] && while read -r _; do n=$((n + 1)); done < {calls}\n"
        f'echo "$*" >> {calls}\n'
        f'[ "$n" -lt {failures} ] && {{ echo "{error}" >&2; exit 1; }}\nexit 0',
    )
    return calls


def test_a_pause_the_kernel_could_not_freeze_is_tried_again(
    bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_client, "PAUSE_RETRY_SECONDS", 0.01)  # the attempts, not the waits
    calls = pausing_docker(bin_dir, failures=3, error=FREEZE_ERROR)
    docker_client.pause_service("hangar-e2e-test", "db", os.environ)
    lines = calls.read_text().splitlines()
    assert len(lines) == 4
    assert all(line.endswith("--project-name hangar-e2e-test pause db") for line in lines)


def test_a_pause_fails_after_its_attempts_and_at_once_for_another_error(
    bin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_client, "PAUSE_RETRY_SECONDS", 0.01)  # the attempts, not the waits
    calls = pausing_docker(bin_dir, failures=99, error=FREEZE_ERROR)
    with pytest.raises(docker_client.HangarError, match=r"pause db failed: .*unable to freeze"):
        docker_client.pause_service("hangar-e2e-test", "db", os.environ)
    assert len(calls.read_text().splitlines()) == docker_client.PAUSE_ATTEMPTS

    calls.unlink()
    pausing_docker(bin_dir, failures=99, error="no such service: db")
    with pytest.raises(docker_client.HangarError, match="no such service"):
        docker_client.pause_service("hangar-e2e-test", "db", os.environ)
    assert len(calls.read_text().splitlines()) == 1
