"""Helpers for the host-mode dev-server tests: `hangar dev` on spare ports, waiting, plain HTTP."""

import http.client
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from hangar.bench.interrupts import HANGAR
from hangar.core import ports
from hangar.devloop.reload_probe import isolated_environment


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


class HostDev:
    def __init__(self, env: dict[str, str], web_port: int, debug_port: int) -> None:
        self.env = env
        self.web_port = web_port
        self.debug_port = debug_port

    def hangar(self, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HANGAR, *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def host_env(tmp_path: Path) -> HostDev:
    """`hangar dev` in host mode on free ports, SQLite and no AWS, its session under tmp_path."""
    web_port, debug_port = ports.spare_port(), ports.spare_port()
    # No stack outputs (not even those this pytest process loaded from .hangar/local.env):
    # the S3 and SQS readiness checks report "not configured".
    env = isolated_environment(tmp_path)
    env.pop("DEBUGPY_WAIT", None)
    env.update(
        HANGAR_DEV_MODE="host",
        HANGAR_DEV_DIR=str(tmp_path / "dev"),
        HANGAR_WEB_PORT=str(web_port),
        HANGAR_DEBUG_PORT=str(debug_port),
    )
    return HostDev(env, web_port, debug_port)
