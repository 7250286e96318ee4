"""The command line of the development server: hangar.devloop.devserver under debugpy.

hangar.devloop.devserver keeps a warm parent process that watches files and forks the real server
into a
child on every change. Running the parent under `python -m debugpy --listen` makes debugpy follow
each forked child: it connects back to the same adapter, which announces it to the attached editor
(VS Code's `subProcess: true`), so breakpoints keep working after a hot reload without
re-attaching. tests/e2e/test_debugger_host.py proves it across a reload.

compose.yaml's `web` service runs the same command with DEBUG_HOST=0.0.0.0 (see docs/dev.md).
`server_command(address, "runserver")` is Django's own reloading server in the same configuration,
which `make bench` measures for comparison.
"""

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ServerAddress:
    host: str = "127.0.0.1"
    port: int = 8000
    debug_host: str = "127.0.0.1"
    debug_port: int = 5678


def wait_for_client(environ: Mapping[str, str] = os.environ) -> bool:
    """DEBUGPY_WAIT=1 holds the server until a debugger attaches (to debug start-up code)."""
    return environ.get("DEBUGPY_WAIT", "").strip().lower() in {"1", "true", "yes", "on"}


# What runs after the interpreter (and debugpy): hangar.devloop.devserver is what `make dev` runs,
# Django's own runserver (with its reloader) what `make bench` compares it with.
Server = Literal["devserver", "runserver"]
SERVER_ARGV: dict[Server, list[str]] = {
    "devserver": ["-m", "hangar.devloop.devserver"],
    "runserver": ["manage.py", "runserver"],
}


def dev_server_for(platform: str = sys.platform) -> tuple[Server, str]:
    """Which server host mode runs on this platform, and why (`make dev` prints it at start).

    The forking server forks a parent that runs watchfiles' thread and debugpy's. On macOS a
    child forked from a multi-threaded parent can crash in the system's proxy lookup
    (CoreFoundation, reached through `urllib.request.getproxies()` when boto3 makes its first
    client; python/cpython#104578), so there Django's own reloader runs: a new interpreter per
    change, slower but with nothing forked. Docker mode runs Linux, whatever the host.
    """
    if platform == "darwin":
        return "runserver", (
            "Django's autoreloader (macOS: a fork of the multi-threaded reloading parent can "
            "crash in CoreFoundation, python/cpython#104578)"
        )
    return "devserver", "hangar.devloop.devserver (forks a warm server per save)"


def server_command(
    address: ServerAddress,
    server: Server = "devserver",
    *,
    wait: bool = False,
    python: str = sys.executable,
    debug: bool = True,
) -> list[str]:
    """argv for `server` under debugpy (unless not `debug`); cwd: the Django project."""
    debugger = [
        # Frozen stdlib modules carry no source paths, so pydevd warns it may miss breakpoints.
        # `-X` options are passed on by Django's autoreloader to every server child it starts.
        "-Xfrozen_modules=off",
        "-m",
        "debugpy",
        "--listen",
        f"{address.debug_host}:{address.debug_port}",
        *(["--wait-for-client"] if wait else []),
    ]
    return [
        python,
        *(debugger if debug else []),
        *SERVER_ARGV[server],
        f"{address.host}:{address.port}",
    ]
