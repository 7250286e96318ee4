"""Endpoint configuration, and the refusal to start LocalStack on a port something else holds."""

import os
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest

from hangar.core.aws_clients import cli_environment
from hangar.core.errors import HangarError
from hangar.core.ports import spare_port
from hangar.localstack import host as localstack_host
from hangar.localstack.commands import ensure_running
from hangar.localstack.endpoint import (
    answers,
    configured_endpoint,
    health,
    is_healthy,
    require_localstack,
)


@pytest.fixture(autouse=True)
def _no_endpoint_settings(monkeypatch):
    for name in ("LOCALSTACK_ENDPOINT", "HANGAR_LOCALSTACK_PORT", "HANGAR_LOCALSTACK_MODE"):
        monkeypatch.delenv(name, raising=False)


def test_default_endpoint():
    endpoint = configured_endpoint()
    assert (endpoint.url, endpoint.host, endpoint.port) == (
        "http://127.0.0.1:4566",
        "127.0.0.1",
        4566,
    )


def test_localstack_endpoint_wins_over_port(monkeypatch):
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", "http://localhost:4620/")
    monkeypatch.setenv("HANGAR_LOCALSTACK_PORT", "4630")
    endpoint = configured_endpoint()
    assert (endpoint.url, endpoint.port, endpoint.bind_host) == (
        "http://localhost:4620",
        4620,
        "127.0.0.1",
    )


def test_port_shorthand(monkeypatch):
    monkeypatch.setenv("HANGAR_LOCALSTACK_PORT", "4630")
    assert configured_endpoint().url == "http://127.0.0.1:4630"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOCALSTACK_ENDPOINT", "127.0.0.1:4566"),
        ("LOCALSTACK_ENDPOINT", "https://127.0.0.1:4566"),
        ("LOCALSTACK_ENDPOINT", "http://127.0.0.1"),
        ("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566/api"),
        ("HANGAR_LOCALSTACK_PORT", "fourfivesixsix"),
        ("HANGAR_LOCALSTACK_PORT", "70000"),
    ],
)
def test_unusable_endpoint_names_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(HangarError, match=variable):
        configured_endpoint()


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_error(404)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def other_web_server(serve_http: Callable[[type[BaseHTTPRequestHandler]], int]) -> int:
    """Some other HTTP service (a dev server, say) on the port LocalStack should use."""
    return serve_http(_NotFound)


# listening_port (conftest.py) accepts connections but never speaks HTTP.
@pytest.mark.parametrize("holder", ["listening_port", "other_web_server"])
def test_port_held_by_something_else_is_a_clear_error(request, monkeypatch, holder):
    port = request.getfixturevalue(holder)
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HANGAR_LOCALSTACK_MODE", "host")

    with pytest.raises(HangarError) as error:
        ensure_running()

    assert f"port {port} (LocalStack) is already in use by pid {os.getpid()}" in error.value.message
    assert "HANGAR_LOCALSTACK_PORT=" in str(error.value.hint)
    assert "LOCALSTACK_ENDPOINT=" in str(error.value.hint)
    assert not localstack_host.RunDir.for_port(port).path.exists(), "nothing may be started"


def test_http_service_that_is_not_localstack_is_not_healthy(other_web_server):
    assert health(f"http://127.0.0.1:{other_web_server}") is None


def test_remote_endpoint_is_never_started(monkeypatch):
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", "http://localstack.invalid:4566")
    with pytest.raises(HangarError, match="only starts one on this machine"):
        ensure_running()


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://localhost:4566", "http://127.0.0.1:4566"),
        ("http://127.0.0.1:4617", "http://127.0.0.1:4617"),
        ("http://no-such-host.invalid:4566", "http://no-such-host.invalid:4566"),
    ],
)
def test_the_cdk_cli_gets_the_endpoint_by_address(endpoint: str, expected: str) -> None:
    """At an IP address its S3 client addresses buckets by path, never as <bucket>.<host>."""
    env = cli_environment(region="us-east-1", endpoint=endpoint)
    assert (env["AWS_ENDPOINT_URL"], env["AWS_ENDPOINT_URL_S3"]) == (expected, expected)


def test_a_refused_connection_is_no_localstack_at_once():
    port = spare_port()  # nothing listens there
    started = time.monotonic()
    assert not answers(f"http://127.0.0.1:{port}", patience=30)
    assert time.monotonic() - started < 5, "waited for a port nothing listens on"


class _BusyThenHealthy(BaseHTTPRequestHandler):
    """LocalStack finishing a deploy on a loaded machine: its first health checks time out."""

    slow_answers = 2

    def do_GET(self):
        if type(self).slow_answers > 0:
            type(self).slow_answers -= 1
            time.sleep(2.5)  # beyond is_healthy's 2 s
        body = b'{"services": {}}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def test_a_localstack_slow_to_answer_is_given_time(serve_http):
    port = serve_http(_BusyThenHealthy)
    endpoint = f"http://127.0.0.1:{port}"
    assert not is_healthy(endpoint), "the check must see it busy first"
    assert answers(endpoint, patience=30)


def test_deploy_local_refuses_at_once_when_nothing_answers():
    endpoint = f"http://127.0.0.1:{spare_port()}"
    with pytest.raises(HangarError, match=f"LocalStack does not answer at {endpoint}"):
        require_localstack(endpoint)
