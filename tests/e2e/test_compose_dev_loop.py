"""The compose dev loop: a saved view is served without restarting `web`, and breakpoints hit.

The `web` container mounts a scratch copy of the project (the containers fixtures' source_dir, via
compose.yaml's HANGAR_SOURCE_DIR), so the tests edit a view there and never in the checkout: a
probe view of their own, which they add to the project's URLconf (its ROOT_URLCONF), so the same
tests hold for any project. The debugger test attaches the way VS Code's "Attach to Hangar" does:
its launch.json configuration, with the scratch copy as the workspace folder and this run's
debugpy host port.
"""

import http.client
import importlib.util
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
from django.conf import settings
from hostdev import get, wait_http

from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.testing.containers import Compose

pytestmark = pytest.mark.e2e

PROBE_PATH = "/__hangar_probe__/"
PROBE_MODULE = "hangar_probe_view"
PROBE_VIEW = """from django.http import JsonResponse

MARKER = "original"


def probe(request):
    answer = {"marker": MARKER}
    return JsonResponse(answer)
"""
PROBE_URLS = f"""

from django.urls import path as _hangar_probe_path

import {PROBE_MODULE}

urlpatterns += [_hangar_probe_path({PROBE_PATH.lstrip("/")!r}, {PROBE_MODULE}.probe)]
"""
BREAKPOINT_TEXT = 'answer = {"marker": MARKER}'
RELOAD_TIMEOUT = 60.0


def urlconf_file(source_dir: Path) -> Path:
    """The copy of the project's ROOT_URLCONF module (the settings the test process runs with)."""
    spec = importlib.util.find_spec(settings.ROOT_URLCONF)
    assert spec is not None, settings.ROOT_URLCONF
    assert spec.origin is not None, settings.ROOT_URLCONF
    relative = Path(spec.origin).resolve().relative_to(contract().project_path.resolve())
    return source_dir / contract().project_dir / relative


@pytest.fixture(scope="module")
def probe_view(stack: Compose, source_dir: Path) -> Path:
    """The probe view, in the mounted project and its URLconf, served."""
    path = source_dir / contract().project_dir / f"{PROBE_MODULE}.py"
    if not path.exists():
        urls = urlconf_file(source_dir)
        save(path, PROBE_VIEW, like=urls)
        save(urls, urls.read_text() + PROBE_URLS)
    wait_for_probe(stack, lambda body: body.get("marker") == "original", "the probe view")
    return path


@pytest.fixture
def view(stack: Compose, probe_view: Path) -> Iterator[Path]:
    """The mounted probe view; put back as it was, and served again, after the test."""
    original = probe_view.read_text()
    yield probe_view
    if probe_view.read_text() != original:
        save(probe_view, original)
        wait_for_probe(stack, lambda body: body.get("marker") == "original", "the original view")


def save(path: Path, text: str, like: Path | None = None) -> None:
    """Replace the file in one step, as editors do, so the reloader never loads half a file.

    The new file keeps the old one's owner (or `like`'s): the container's user, who may edit it.
    """
    stat = (like or path).stat()
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    draft.write_text(text)
    os.chown(draft, stat.st_uid, stat.st_gid)
    draft.chmod(stat.st_mode)
    draft.replace(path)


def probe_url(stack: Compose) -> str:
    return f"http://127.0.0.1:{stack.ports['WEB_PORT']}{PROBE_PATH}"


def wait_for_probe(stack: Compose, wanted: Callable[[dict[str, Any]], bool], what: str) -> None:
    """Poll the probe view until `wanted` holds of its JSON, across the server restart."""
    deadline = time.monotonic() + RELOAD_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        try:
            _, body = get(probe_url(stack), timeout=10)
            last = json.loads(body)
            if wanted(last):
                return
        # While the reloader swaps processes the port refuses or drops connections; before the
        # new URLconf is loaded the path is a 404.
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
    marker = uuid.uuid4().hex
    save(view, view.read_text().replace('MARKER = "original"', f'MARKER = "{marker}"'))

    wait_for_probe(stack, lambda body: body.get("marker") == marker, "the edited view")
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
    """Request the probe, expect the debugger to stop in the view, continue; the response status."""
    wait_http(f"http://127.0.0.1:{stack.ports['WEB_PORT']}{contract().health_path}")
    result: dict[str, int] = {}

    def request() -> None:
        result["status"], _ = get(probe_url(stack))

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
    # Set on the workspace path; pathMappings turn it into its /app/src/… path in the container,
    # and the stopped frame back into the workspace path.
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
        assert hit_breakpoint(first, stack, view, line) == 200

        view.touch()  # a save without changes: enough for the reloader, nothing to undo
        second = attach_subprocess(reloader, breakpoints, alive, nudge=view.touch)
        sessions.append(second)
        assert second.process_id != first.process_id, "the server was not restarted"
        assert hit_breakpoint(second, stack, view, line) == 200
    finally:
        for session in sessions:
            session.close()
