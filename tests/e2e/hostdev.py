"""Helpers for the host-mode dev-server tests: waiting for ports, plain HTTP."""

import http.client
import time
import urllib.error
import urllib.request

from hangar.core import ports


def wait_listening(port: int, timeout: float = 60.0) -> None:
    """Wait until something listens on `port`, without connecting (see
    hangar.core.ports.is_free)."""
    deadline = time.monotonic() + timeout
    while ports.is_free(port):
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing listens on port {port} after {timeout:.0f}s")
        time.sleep(0.05)


def get(url: str, timeout: float = 60.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_http(url: str, timeout: float = 60.0) -> tuple[int, str]:
    """GET `url` until the server answers at all (any status), e.g. while it reloads."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get(url, timeout=5)
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
