"""The command line of the development server: Django's runserver under debugpy.

Django's autoreloader keeps a parent process that watches files and runs the real server in a child
it restarts on every change. Running the parent under `python -m debugpy --listen` makes debugpy
follow subprocesses: each new server child connects back to the same adapter, which announces it to
the attached editor (VS Code's `subProcess: true`), so breakpoints keep working after a hot reload
without re-attaching. tests/e2e/test_debugger_host.py proves it across a reload.

compose.yaml's `web` service runs the same command with DEBUG_HOST=0.0.0.0 (see docs/dev.md).
"""

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerAddress:
    host: str = "127.0.0.1"
    port: int = 8000
    debug_host: str = "127.0.0.1"
    debug_port: int = 5678


def wait_for_client(environ: Mapping[str, str] = os.environ) -> bool:
    """DEBUGPY_WAIT=1 holds the server until a debugger attaches (to debug start-up code)."""
    return environ.get("DEBUGPY_WAIT", "").strip().lower() in {"1", "true", "yes", "on"}


def runserver_command(
    address: ServerAddress, *, wait: bool = False, python: str = sys.executable
) -> list[str]:
    """argv for `manage.py runserver` under debugpy, to run with the Django project as cwd."""
    return [
        python,
        # Frozen stdlib modules carry no source paths, so pydevd warns it may miss breakpoints.
        # `-X` options are passed on by the autoreloader to every server child it starts.
        "-Xfrozen_modules=off",
        "-m",
        "debugpy",
        "--listen",
        f"{address.debug_host}:{address.debug_port}",
        *(["--wait-for-client"] if wait else []),
        "manage.py",
        "runserver",
        f"{address.host}:{address.port}",
    ]
