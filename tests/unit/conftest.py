"""Unit tests run without network: in-memory file storage, tasks recorded instead of sent.

Loopback sockets are fine: the port fixtures below hold (or release) a kernel-chosen port.
"""

import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture(scope="session")
def _static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("staticfiles")


@pytest.fixture(autouse=True)
def _no_aws(settings, _static_root):
    # Whatever .hangar/local.env or the shell configured, unit tests never reach AWS or LocalStack.
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        # The manifest storage needs `collectstatic`, which unit tests do not run.
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.DOCUMENTS_BUCKET = ""
    settings.TASKS_QUEUE_URL = ""
    settings.AWS_ENDPOINT_URL = ""
    # As on every deployed stage, whatever `make dev` or the dev container set in this shell.
    settings.UPLOADS_REQUIRE_LOGIN = True
    # WhiteNoise warns about a STATIC_ROOT that collectstatic has not created yet.
    settings.STATIC_ROOT = _static_root


@pytest.fixture
def member(django_user_model):
    """A plain user (no staff rights): uploads need one wherever login is required."""
    return django_user_model.objects.create_user("member", password="member-password")


@pytest.fixture
def logged_in(client, member):
    """The test client with `member`'s session, as a browser has after logging in."""
    client.force_login(member)
    return client


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound once by the kernel's choice, closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port this test process listens on (accepts, never answers) for the test."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.fixture
def serve_http() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], int]]:
    """Start a threaded loopback HTTP server with a handler class; its port. Stopped after."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> int:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


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
