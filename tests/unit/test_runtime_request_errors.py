"""A 500's traceback reaches gunicorn's stdout in the runtime image, whatever the project logs.

The server is the runtime image's (the platform's docker/runtime/gunicorn.conf.py) on a loopback
port, serving a throwaway Django project with DEBUG off and a view that raises: first with no
LOGGING at all (Django's defaults then sent the traceback nowhere, so a new project's first 500
under run-task left nothing in the logs), then with a LOGGING of the project's own that already
writes to the console, which must not get a second copy.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60.0  # generous: the machine may be loaded

SETTINGS = """\
SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "site_urls"
DATABASES = {}
"""
OWN_LOGGING = """\
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"own": {"format": "OWN %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "own"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
"""
URLS = """\
from django.http import HttpResponse
from django.urls import path


def fine(request):
    return HttpResponse("fine")


def broken(request):
    raise RuntimeError({marker!r})


urlpatterns = [path("fine", fine), path("broken", broken)]
"""
WSGI = """\
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
"""


def serve_and_break(folder: Path, settings: str) -> str:
    """Start gunicorn on the project, request /broken once, stop it; its whole output."""
    marker = f"broken-{uuid.uuid4()}"
    (folder / "site_settings.py").write_text(settings)
    (folder / "site_urls.py").write_text(URLS.format(marker=marker))
    (folder / "site_wsgi.py").write_text(WSGI)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "site_settings",
        "HANGAR_WSGI_APPLICATION": "site_wsgi:application",
        "HANGAR_CONTAINER_PORT": str(port),
        "GUNICORN_THREADS": "2",
        "PYTHONPATH": str(folder),
    }
    log = folder / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                f"--config={ROOT / 'docker/runtime/gunicorn.conf.py'}",
                f"--bind=127.0.0.1:{port}",  # the command line wins over the config's 0.0.0.0
            ],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(port, "/fine", 200, server, log)
        assert status(port, "/broken") == 500
        # The traceback is written after the response: wait for it rather than for a fixed time.
        deadline = time.monotonic() + DEADLINE
        while marker not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return log.read_text()


def status(port: int, path: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return int(connection.makefile("rb").readline().split()[1])


def wait_for(
    port: int, path: str, expected: int, server: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()}")
        try:
            if status(port, path) == expected:
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer {path} in {DEADLINE:.0f} s:\n{log.read_text()}")


def test_a_project_without_logging_gets_its_500_traceback_on_stdout(tmp_path: Path) -> None:
    output = serve_and_break(tmp_path, SETTINGS)

    assert "ERROR django.request Internal Server Error: /broken" in output
    assert "Traceback (most recent call last)" in output
    assert "RuntimeError: broken-" in output


def test_a_project_that_logs_to_the_console_gets_no_second_copy(tmp_path: Path) -> None:
    output = serve_and_break(tmp_path, SETTINGS + OWN_LOGGING)

    assert output.count("Internal Server Error: /broken") == 1
    assert "OWN ERROR django.request Internal Server Error: /broken" in output
