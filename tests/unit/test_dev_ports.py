"""Port checks: taken ports are found without connecting, and named with their holder."""

import os

import pytest

from hangar.core import ports
from hangar.core.errors import HangarError


def test_listening_port_is_taken_and_its_holder_named(listening_port: int) -> None:
    assert not ports.is_free(listening_port)
    held_by = ports.holder(listening_port)
    assert held_by
    assert held_by.startswith(f"pid {os.getpid()}: "), held_by
    assert "pytest" in held_by or "python" in held_by


def test_closed_port_is_free(closed_port: int) -> None:
    assert ports.is_free(closed_port)
    assert ports.holder(closed_port) is None


def test_ensure_free_names_port_purpose_and_fix(listening_port: int) -> None:
    with pytest.raises(HangarError) as error:
        ports.ensure_free({listening_port: "debugpy"}, "set HANGAR_DEBUG_PORT")
    assert (
        f"port {listening_port} (debugpy) is already in use by pid {os.getpid()}"
        in error.value.message
    )
    assert "make down" in str(error.value.hint)
    assert "HANGAR_DEBUG_PORT" in str(error.value.hint)


def test_ensure_free_accepts_free_ports(closed_port: int) -> None:
    ports.ensure_free({closed_port: "web"}, "unused")
