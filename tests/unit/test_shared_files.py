"""Files several hangar processes share: a rewrite never shows a reader a truncated file."""

import os
import stat
from pathlib import Path

import pytest

from hangar.core import docker_client, locks


def test_a_rewrite_is_a_whole_new_file_put_in_place_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared = tmp_path / "compose.env"
    shared.write_text("PYTHON_IMAGE=old\n")
    seen_before_the_swap: list[str] = []
    real_replace = os.replace

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        # What a reader in another process finds while the new content is being written.
        seen_before_the_swap.append(Path(target).read_text())
        assert Path(source).read_text() == "PYTHON_IMAGE=new\n"
        real_replace(source, target)

    monkeypatch.setattr(locks.os, "replace", replace)
    locks.write_atomically(shared, "PYTHON_IMAGE=new\n")

    assert seen_before_the_swap == ["PYTHON_IMAGE=old\n"]
    assert shared.read_text() == "PYTHON_IMAGE=new\n"
    assert [path.name for path in tmp_path.iterdir()] == ["compose.env"]  # no scratch file left


def test_the_same_content_is_not_written_again(tmp_path: Path) -> None:
    shared = tmp_path / "Dockerfile.standins"
    shared.write_text("FROM python\n")
    before = shared.stat().st_mtime_ns
    os.utime(shared, ns=(before - 10**9, before - 10**9))

    locks.write_atomically(shared, "FROM python\n")

    assert shared.stat().st_mtime_ns == before - 10**9


def test_provisions_choices_and_the_contract_are_written_together(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One write: a reader between two writes would find the images without the contract."""
    monkeypatch.setattr(docker_client, "COMPOSE_ENV_FILE", tmp_path / "compose.env")
    writes: list[str] = []
    monkeypatch.setattr(docker_client, "write_atomically", lambda path, text: writes.append(text))

    docker_client.write_compose_env(["# provision", "PYTHON_IMAGE=hangar-standin/python:3.13-slim"])

    (written,) = writes
    assert written.startswith("# provision\nPYTHON_IMAGE=hangar-standin/python:3.13-slim\n")
    assert f"{docker_client.CONTRACT_HEADER}\nCOMPOSE_PROFILES=" in written


def test_a_secret_file_is_created_with_its_mode_and_a_wrong_mode_is_mended(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared = tmp_path / "local.env"
    modes_while_written: list[int] = []
    real_replace = os.replace

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        modes_while_written.append(stat.S_IMODE(Path(source).stat().st_mode))
        real_replace(source, target)

    monkeypatch.setattr(locks.os, "replace", replace)
    locks.write_atomically(shared, "DJANGO_SECRET_KEY=s3cr3t\n", mode=0o600)
    shared.chmod(0o644)
    locks.write_atomically(shared, "DJANGO_SECRET_KEY=s3cr3t\n", mode=0o600)

    assert modes_while_written == [0o600, 0o600]  # never readable by others, even unfinished
    assert stat.S_IMODE(shared.stat().st_mode) == 0o600
