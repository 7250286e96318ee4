"""hangar.devserver's pure parts; tests/e2e/test_reload_host.py and test_debugger_host.py run it."""

import pytest
from watchfiles import Change

from hangar import devserver


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
    "path", ["/src/app/health/views.py", "/src/app/templates/base.html", "/src/app/x/django.mo"]
)
def test_a_saved_source_file_reloads(path: str) -> None:
    assert devserver.SourceFilter()(Change.modified, path)


@pytest.mark.parametrize(
    "path",
    [
        # Written by the running server itself: reloading on them would loop forever.
        "/src/app/db.sqlite3",
        "/src/app/db.sqlite3-journal",
        "/src/.hangar/media/upload.pdf",
        # Editors' and Python's own files.
        "/src/app/health/__pycache__/views.cpython-313.pyc",
        "/src/app/health/.views.py.swp",
    ],
)
def test_files_the_server_or_tools_write_do_not_reload(path: str) -> None:
    assert not devserver.SourceFilter()(Change.modified, path)
