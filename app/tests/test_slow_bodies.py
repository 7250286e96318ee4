"""Slow request bodies against a running gunicorn: they cannot take the request slots.

The server is the runtime image's (the platform's gunicorn.conf.py, gthread workers) on a loopback
port, with the development settings and a throwaway SQLite file. Every gunicorn thread gets a
client that sends its headers and the start of a login form, then stops: the body read must end
with a 408 once its deadline passes, and a request waiting behind them must then be served, not
refused for want of a slot (issue 27: eight such clients used to hold every slot, and everyone
else got 503).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THREADS = 4
BODY_TIMEOUT = 1  # seconds; REQUEST_BODY_TIMEOUT for the server under test
CSRF_COOKIE = "a" * 32  # any 32 letters: the CSRF check then reads the form to compare tokens
ANSWER_DEADLINE = 60.0  # generous: the machine may be loaded


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("gunicorn")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    (folder / "empty.env").touch()
    # Nothing of the caller's app configuration (the dev container's compose environment, say):
    # an anonymous API request must be the 403 a deployed stage answers.
    app_config = ("DJANGO_", "DATABASE_", "AWS_", "DOCUMENTS_", "TASKS_", "UPLOAD")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(app_config)},
        "UPLOADS_REQUIRE_LOGIN": "true",
        "HANGAR_WSGI_APPLICATION": "config.wsgi:application",
        "HANGAR_CONTAINER_PORT": str(port),
        "GUNICORN_THREADS": str(THREADS),
        "HANGAR_ENV_FILE": str(folder / "empty.env"),
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "REQUEST_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    with (folder / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                f"--config={ROOT / 'docker/runtime/gunicorn.conf.py'}",
                # The command line wins over the config file's 0.0.0.0: loopback only.
                f"--bind=127.0.0.1:{port}",
            ],
            cwd=ROOT / "app",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_serving(port, process, folder / "gunicorn.log")
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + ANSWER_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            if _request(port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") == 200:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer /healthz in {ANSWER_DEADLINE:.0f} s:\n{log.read_text()}")


def _status(connection: socket.socket) -> int:
    connection.settimeout(ANSWER_DEADLINE)
    status_line = connection.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    return int(status_line.split()[1])


def _request(port: int, head: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_DEADLINE) as connection:
        connection.sendall(head.encode())
        return _status(connection)


def _slow_login(port: int) -> socket.socket:
    """A login form whose client announces 1000 bytes, sends nine, and then nothing."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_DEADLINE)
    connection.sendall(
        (
            "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Cookie: csrftoken={CSRF_COOKIE}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            "username="
        ).encode()
    )
    return connection


def test_slow_bodies_on_every_thread_time_out_and_take_no_request_slot(server: int) -> None:
    slow = [_slow_login(server) for _ in range(THREADS)]
    try:
        # Queued behind the slow clients: it runs once a body read gives its thread back.
        waiting = _request(server, "GET /api/documents/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        # Anonymous: the API's JSON 403, not the 503 of a process whose slots are all taken.
        assert waiting == 403
        slow_statuses = [_status(connection) for connection in slow]
    finally:
        for connection in slow:
            connection.close()

    assert slow_statuses == [408] * THREADS
