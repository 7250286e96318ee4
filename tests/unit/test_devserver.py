"""hangar.devloop.devserver's pure parts; tests/e2e/test_reload_host.py and test_debugger_host.py
run it."""

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
