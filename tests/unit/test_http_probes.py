"""Every HTTP probe in the tooling treats an answer cut off mid-response as "no answer yet".

A dev server that reloads, or a LocalStack that stops, can close the connection after the headers;
http.client then raises IncompleteRead, which is not an OSError. A probe that let it through would
crash the wait loop around it (this failed CI once, in the reload test) instead of trying again.
"""

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from hangar.deploy import stage_smoke_test
from hangar.devloop import reload_probe
from hangar.localstack import endpoint as localstack_endpoint


@pytest.fixture
def cut_off_server() -> Iterator[str]:
    """Answers every request with headers promising 32 bytes, sends none, and hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 32\r\n\r\n"
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
    listener.close()
    thread.join(timeout=5)


# Probes that read the body; those that read only the status line never see the cut.
PROBES: dict[str, Callable[[str], object]] = {
    "reload probe": reload_probe._get,
    "localstack health": localstack_endpoint.health,
    "deploy smoke test": lambda url: stage_smoke_test.http_get(url)[0],
}


@pytest.mark.parametrize("name", PROBES)
def test_a_cut_off_answer_is_no_answer(cut_off_server: str, name: str) -> None:
    assert PROBES[name](cut_off_server + "/") is None
