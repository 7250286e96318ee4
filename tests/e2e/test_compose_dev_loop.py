"""The compose dev loop: a saved view is served without restarting `web`, and breakpoints hit.

The `web` container mounts a scratch copy of app/ (conftest.py's source_dir, via compose.yaml's
HANGAR_SOURCE_DIR), so the tests edit views there and never in the checkout. The debugger test
attaches the way VS Code's "Attach to Hangar" does: its launch.json configuration, with the
scratch copy as the workspace folder and this run's debugpy host port.
"""

import http.client
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dap_client import DapSession, attach, attach_subprocess, wait_stopped_at
from hostdev import get, wait_http

from hangar.core.paths import ROOT
from hangar.testing.containers import Compose

pytestmark = pytest.mark.e2e

VIEW = Path("app") / "health" / "views.py"
BREAKPOINT_TEXT = "checks = run_checks()"
RESPONSE_TEXT = '"checks": checks}'
RELOAD_TIMEOUT = 60.0


@pytest.fixture
def view(stack: Compose, source_dir: Path) -> Iterator[Path]:
    """The mounted readyz view; put back as it was, and served again, after the test."""
    path = source_dir / VIEW
    original = path.read_text()
    yield path
    if path.read_text() != original:
        save(path, original)
        wait_for_readyz(stack, lambda body: "edited" not in body, "the original view")


def save(path: Path, text: str) -> None:
    """Replace the file in one step, as editors do, so the reloader never loads half a file.

    The new file keeps the old one's owner: the container's user, who may edit it too.
    """
    stat = path.stat()
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    draft.write_text(text)
    os.chown(draft, stat.st_uid, stat.st_gid)
    draft.chmod(stat.st_mode)
    draft.replace(path)


def readyz_url(stack: Compose) -> str:
    return f"http://127.0.0.1:{stack.ports['WEB_PORT']}/readyz"


def wait_for_readyz(stack: Compose, wanted: Callable[[dict[str, Any]], bool], what: str) -> None:
    """Poll /readyz (200 or 503: both are JSON) until `wanted` holds, across the server restart."""
    deadline = time.monotonic() + RELOAD_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        try:
            _, body = get(readyz_url(stack), timeout=10)
            last = json.loads(body)
            if wanted(last):
                return
        # While the reloader swaps processes the port refuses or drops connections.
        except (OSError, http.client.HTTPException, ValueError) as error:
            last = error
        time.sleep(0.25)
    raise AssertionError(
        f"web did not serve {what} within {RELOAD_TIMEOUT:.0f}s; last: {last!r}\n{stack.logs()}"
    )


def web_container(stack: Compose) -> str:
    return stack.run("ps", "--quiet", "web").stdout.strip()


def test_an_edited_view_is_served_without_restarting_the_container(
    stack: Compose, view: Path
) -> None:
    container = web_container(stack)
    _, body = wait_http(readyz_url(stack))
    assert "edited" not in json.loads(body)

    marker = uuid.uuid4().hex
    source = view.read_text()
    assert RESPONSE_TEXT in source, f"{view} has no {RESPONSE_TEXT!r}; update this test's edit"
    save(view, source.replace(RESPONSE_TEXT, f'"checks": checks, "edited": "{marker}"}}'))

    wait_for_readyz(stack, lambda body: body.get("edited") == marker, "the edited view")
    assert web_container(stack) == container, "the container was replaced, not reloaded"


def attach_config(source_dir: Path, debug_port: int) -> dict[str, Any]:
    """launch.json's "Attach to Hangar" as VS Code sends it, opened on `source_dir`."""
    launch = json.loads((ROOT / ".vscode" / "launch.json").read_text())
    (config,) = (c for c in launch["configurations"] if c["name"] == "Attach to Hangar")
    resolved: dict[str, Any] = json.loads(
        json.dumps(config).replace("${workspaceFolder}", str(source_dir))
    )
    for key in ("name", "type", "request"):
        resolved.pop(key)
    # The adapter repeats `connect` in its subprocess announcements: the published host port.
    resolved["connect"] = {"host": "127.0.0.1", "port": debug_port}
    return resolved


def breakpoint_line(path: Path) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip() == BREAKPOINT_TEXT:
            return number
    raise AssertionError(f"{path} has no line {BREAKPOINT_TEXT!r}; update this test's target")


def hit_breakpoint(session: DapSession, stack: Compose, path: Path, line: int) -> int:
    """Request /readyz, expect the debugger to stop in the view, continue; the response status."""
    wait_http(f"http://127.0.0.1:{stack.ports['WEB_PORT']}/healthz")
    result: dict[str, int] = {}

    def request() -> None:
        result["status"], _ = get(readyz_url(stack))

    client = threading.Thread(target=request)
    client.start()
    thread_id = wait_stopped_at(session, str(path), line)
    assert client.is_alive(), "the request finished although the debugger holds the view"
    session.request("continue", {"threadId": thread_id})
    client.join(timeout=30)
    assert "status" in result, "the request did not finish after `continue`"
    return result["status"]


def test_a_breakpoint_hits_in_the_container_before_and_after_a_hot_reload(
    stack: Compose, source_dir: Path, view: Path
) -> None:
    # Set on the workspace path; pathMappings turn it into /app/src/app/health/views.py in the
    # container, and the stopped frame back into the workspace path.
    line = breakpoint_line(view)
    breakpoints = {str(view): [line]}

    def alive(pid: int) -> bool:
        probe = stack.run("exec", "-T", "web", "test", "-d", f"/proc/{pid}", check=False)
        return probe.returncode == 0

    config = attach_config(source_dir, stack.ports["DEBUGPY_PORT"])
    reloader = attach("127.0.0.1", stack.ports["DEBUGPY_PORT"], {}, config)
    sessions = [reloader]
    try:
        first = attach_subprocess(reloader, breakpoints, alive)
        sessions.append(first)
        assert hit_breakpoint(first, stack, view, line) in {200, 503}

        view.touch()  # a save without changes: enough for the reloader, nothing to undo
        second = attach_subprocess(reloader, breakpoints, alive, nudge=view.touch)
        sessions.append(second)
        assert second.process_id != first.process_id, "the server was not restarted"
        assert hit_breakpoint(second, stack, view, line) in {200, 503}
    finally:
        for session in sessions:
            session.close()
