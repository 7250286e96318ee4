"""config.request_body's parts in-process; tests/unit/test_slow_bodies.py runs them in gunicorn."""

import socket
import time
from collections.abc import Iterator

import pytest

from config.request_body import Deadline, RequestBodyMiddleware


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    server_side, client_side = socket.socketpair()
    # A safety net: a deadline that never fired fails the test instead of hanging it.
    server_side.settimeout(30)
    with server_side, client_side:
        yield server_side, client_side


def test_a_read_blocked_on_a_silent_client_is_woken_at_the_deadline(settings, connection):
    settings.REQUEST_BODY_TIMEOUT = 0.2
    server_side, _ = connection
    deadline = Deadline(server_side)

    assert server_side.recv(10) == b""  # the reading side was shut: the read returns
    assert deadline.passed


def test_bytes_received_earn_time_and_a_finished_read_is_left_alone(settings, connection):
    settings.REQUEST_BODY_TIMEOUT = 1
    settings.REQUEST_BODY_MIN_RATE = 10  # bytes per second: 100 bytes earn 10 s
    server_side, client_side = connection
    deadline = Deadline(server_side)
    first_check = deadline._timer
    deadline.received(100)

    # The first check, at 1 s, finds the time earned and schedules the next one.
    waited_until = time.monotonic() + 30
    while deadline._timer is first_check and time.monotonic() < waited_until:
        time.sleep(0.05)
    assert deadline._timer is not first_check
    client_side.sendall(b"still open")
    assert server_side.recv(10) == b"still open"
    assert not deadline.passed
    deadline.finish()


def test_a_body_shorter_than_announced_is_a_408_and_reaches_no_view(rf):
    request = rf.post("/documents/", data=b"username=", content_type="text/plain")
    request.META["CONTENT_LENGTH"] = "1000"
    middleware = RequestBodyMiddleware(lambda request: pytest.fail("the view was reached"))

    response = middleware(request)

    assert response.status_code == 408
    assert "1000 bytes were announced" in response.content.decode()


def test_the_body_read_first_is_what_the_view_reads(rf):
    request = rf.post("/api/documents/", data={"field": "value"})
    seen = {}

    def view(request):
        seen["post"] = request.POST.dict()
        return "done"

    assert RequestBodyMiddleware(view)(request) == "done"
    assert seen["post"] == {"field": "value"}
