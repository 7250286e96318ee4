"""A debugger attached to `hangar dev` (host mode) stops at a breakpoint — also after a hot reload.

The test drives the product path: `hangar dev --detach --without-aws` on free ports with SQLite,
then a small DAP client (dap_client.py) does what VS Code's "Attach to Hangar" does: attach to
debugpy's adapter, follow the server subprocess the autoreloader runs, set a breakpoint in the
view serving the contract's readiness path (tests/e2e/view_breakpoint.py) and request the page.
Touching the view's file makes the autoreloader start a new server process; the adapter announces
it and the same breakpoint must hit there.
"""

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dap_client import DapSession, attach, attach_subprocess, wait_stopped_at
from hostdev import HANGAR, HostDev, get, host_env, wait_http, wait_listening

from hangar.core import ports
from hangar.core.contract import contract

pytestmark = [pytest.mark.e2e, pytest.mark.without_docker]


@dataclass(frozen=True)
class Breakpoint:
    path: str  # the URL path requested
    file: Path  # the view serving it
    line: int  # its first statement


def served_view_breakpoint(dev: HostDev) -> Breakpoint:
    """tests/e2e/view_breakpoint.py, run in the project's Django as the dev server runs."""
    script = Path(__file__).with_name("view_breakpoint.py")
    found = subprocess.run(
        [sys.executable, "-m", "hangar.devloop.in_project", sys.executable, str(script)],
        env=dev.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stdout + found.stderr
    where = json.loads(found.stdout.splitlines()[-1])
    return Breakpoint(where["path"], Path(where["file"]), where["line"])


@pytest.fixture
def host_dev(tmp_path: Path) -> Iterator[HostDev]:
    dev = host_env(tmp_path)
    web_port, debug_port = dev.web_port, dev.debug_port
    started = dev.hangar("dev", "--detach", "--without-aws")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "mode: host (forced by HANGAR_DEV_MODE=host)" in started.stdout
        yield dev
    finally:
        stopped = dev.hangar("down")
        logs = "".join(p.read_text() for p in (tmp_path / "dev").glob("*.log"))
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr + logs
    assert ports.is_free(web_port), "the dev server outlived `hangar down`"
    assert ports.is_free(debug_port), "debugpy outlived `hangar down`"


def hit_breakpoint(server: DapSession, dev: HostDev, at: Breakpoint) -> dict[str, object]:
    """Request the view's path, expect the debugger to stop in it, continue, return the response."""
    wait_http(f"http://127.0.0.1:{dev.web_port}{contract().health_path}")
    result: dict[str, object] = {}

    def request() -> None:
        result["status"], result["body"] = get(f"http://127.0.0.1:{dev.web_port}{at.path}")

    client = threading.Thread(target=request)
    client.start()
    thread_id = wait_stopped_at(server, str(at.file), at.line)
    assert client.is_alive(), "the request finished although the debugger holds the view"
    server.request("continue", {"threadId": thread_id})
    client.join(timeout=30)
    return result


def test_breakpoint_hits_before_and_after_a_hot_reload(host_dev: HostDev) -> None:
    at = served_view_breakpoint(host_dev)
    breakpoints = {str(at.file): [at.line]}
    wait_listening(host_dev.debug_port)
    reloader = attach("127.0.0.1", host_dev.debug_port, {})
    sessions = [reloader]
    try:
        first = attach_subprocess(reloader, breakpoints)
        sessions.append(first)
        assert hit_breakpoint(first, host_dev, at)["status"] == 200

        at.file.touch()  # a save without changes: enough for the reloader, nothing to undo
        second = attach_subprocess(reloader, breakpoints, nudge=at.file.touch)
        sessions.append(second)
        assert second.process_id != first.process_id, "the server was not restarted"
        assert hit_breakpoint(second, host_dev, at)["status"] == 200
    finally:
        for session in sessions:
            session.close()


def test_ctrl_c_stops_a_foreground_session_cleanly(tmp_path: Path) -> None:
    dev = host_env(tmp_path)
    foreground = subprocess.Popen(
        [*HANGAR, "dev", "--without-aws"],
        env=dev.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_http(f"http://127.0.0.1:{dev.web_port}{contract().health_path}")[0] == 200
        foreground.send_signal(signal.SIGINT)
        output, _ = foreground.communicate(timeout=60)
    finally:
        if foreground.poll() is None:
            foreground.kill()
            dev.hangar("down")
    assert foreground.returncode == 0, output
    assert "web | Starting WSGI development server" in output, "output not forwarded with a prefix"
    assert "stopping web" in output
    assert "killed:" not in output, "a child was killed after the stop timeout"
    assert not list((tmp_path / "dev").glob("*.pid"))
    assert ports.is_free(dev.web_port)
    assert ports.is_free(dev.debug_port)
