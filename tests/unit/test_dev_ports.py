"""Port checks: taken ports are found without connecting, and named with their holder."""

import os
import socket
from collections.abc import Iterator

import pytest

from hangar import ports
from hangar.errors import HangarError


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_listening_port_is_taken_and_its_holder_named(listening: int) -> None:
    assert not ports.is_free(listening)
    held_by = ports.holder(listening)
    assert held_by
    assert held_by.startswith(f"pid {os.getpid()}: "), held_by
    assert "pytest" in held_by or "python" in held_by


def test_closed_port_is_free() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    assert ports.is_free(port)
    assert ports.holder(port) is None


def test_ensure_free_names_port_purpose_and_fix(listening: int) -> None:
    with pytest.raises(HangarError) as error:
        ports.ensure_free({listening: "debugpy"}, "set HANGAR_DEBUG_PORT")
    assert (
        f"port {listening} (debugpy) is already in use by pid {os.getpid()}" in error.value.message
    )
    assert "make down" in str(error.value.hint)
    assert "HANGAR_DEBUG_PORT" in str(error.value.hint)


def test_ensure_free_accepts_free_ports() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    ports.ensure_free({port: "web"}, "unused")
