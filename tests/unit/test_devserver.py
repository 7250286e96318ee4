"""hangar.devloop.devserver's pure parts; tests/e2e/test_reload_host.py and test_debugger_host.py
run it."""

import os
import subprocess
import time
from pathlib import Path

import pytest
from watchfiles import Change

from hangar.devloop import devserver

SOURCE = Path("/src/app")
ENV_FILE = Path("/src/.hangar/local.env")


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("0.0.0.0:8000", ("0.0.0.0", 8000)),  # noqa: S104 - the container binds all interfaces
        ("8001", ("127.0.0.1", 8001)),
        ("[::1]:8002", ("::1", 8002)),
    ],
)
def test_parse_address(argument: str, expected: tuple[str, int]) -> None:
    assert devserver.parse_address(argument) == expected


@pytest.mark.parametrize(
    "path", ["/src/app/shop/views.py", "/src/app/templates/base.html", "/src/app/x/django.mo"]
)
def test_a_saved_source_file_reloads(path: str) -> None:
    assert devserver.SourceFilter(SOURCE, ENV_FILE)(Change.modified, path)


def test_a_rewritten_local_env_reloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANGAR_ENV_FILE", raising=False)
    assert devserver.local_env_file(SOURCE) == ENV_FILE
    assert devserver.SourceFilter(SOURCE, ENV_FILE)(Change.modified, str(ENV_FILE))
    monkeypatch.setenv("HANGAR_ENV_FILE", "/elsewhere/stage.env")
    assert devserver.local_env_file(SOURCE) == Path("/elsewhere/stage.env")


@pytest.mark.parametrize(
    "path",
    [
        # Written by the running server itself: reloading on them would loop forever.
        "/src/app/db.sqlite3",
        "/src/app/db.sqlite3-journal",
        "/src/.hangar/media/upload.pdf",
        "/src/.hangar/media/notes.txt",  # a watched suffix, outside the project
        "/src/.hangar/compose.env",
        # Editors' and Python's own files.
        "/src/app/shop/__pycache__/views.cpython-313.pyc",
        "/src/app/shop/.views.py.swp",
    ],
)
def test_files_the_server_or_tools_write_do_not_reload(path: str) -> None:
    assert not devserver.SourceFilter(SOURCE, ENV_FILE)(Change.modified, path)


def test_a_save_made_once_the_first_server_runs_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tree is watched before the first child starts: a save the moment it serves reloads.
    The children are stood in for (a `sleep` each) and the save is made as the first one starts,
    so the order is what is tested, not a race; watching after the fork misses the save."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HANGAR_ENV_FILE", str(tmp_path / ".hangar" / "local.env"))
    monkeypatch.setattr(devserver, "warm_up", lambda: None)  # imports only: not what is tested
    started: list[subprocess.Popen[bytes]] = []

    def start(listener: object, address: str) -> int:
        if started:  # the reload
            raise KeyboardInterrupt
        started.append(subprocess.Popen(["sleep", "60"]))
        (tmp_path / "views.py").write_text("# saved as soon as the server answers\n")
        return started[0].pid

    deadline = time.monotonic() + 30

    def reap(retiring: dict[int, float]) -> None:  # called on every batch, empty ones too
        assert time.monotonic() < deadline, "the save made as the first server started was missed"

    monkeypatch.setattr(devserver, "start", start)
    monkeypatch.setattr(devserver, "reap", reap)
    with pytest.raises(KeyboardInterrupt):
        devserver.serve_and_reload("127.0.0.1:0")
    with pytest.raises(ProcessLookupError):  # stopped and reaped as the reload was cut short
        os.kill(started[0].pid, 0)
