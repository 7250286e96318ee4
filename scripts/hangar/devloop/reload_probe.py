"""How long from saving a Python file to the dev server answering with the new code.

A probe server runs on a private copy of the project (the checkout is never edited) with one extra
view that returns a token, added through settings of its own that extend the project's. Each
measurement rewrites the token in the view's module and polls until the server answers with it:
file save → reloader notices → new server process → first new response. `reloader="devserver"` is
what `make dev` runs (hangar.devloop.devserver: a warm parent forks a server per change); `"stat"`
is Django's runserver with its polling StatReloader, for comparison; `debug=True` runs either
under debugpy, as `make dev` does.
"""

import http.client
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hangar.core import ports
from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.devloop.debug_server import Server, ServerAddress, server_command
from hangar.devloop.in_project import IN_PROJECT

RELOADERS = ("devserver", "stat")
STAT_TICK_SECONDS = 1.0  # django.utils.autoreload.StatReloader.SLEEP_TIME
SETTLE_SECONDS = 2.0  # longer than a tick
PROBE_PATH = "/__reload_probe__"
PROBE_VIEW = """from django.http import HttpResponse

TOKEN = {token!r}


def probe(request):
    return HttpResponse(TOKEN, content_type="text/plain")
"""
# The project's settings with the probe's URLs in front of its own: no file of its is edited.
PROBE_SETTINGS_MODULE = "reload_probe_settings"
PROBE_SETTINGS = """from {settings} import *  # noqa: F403

HANGAR_PROJECT_URLCONF = ROOT_URLCONF  # noqa: F405
ROOT_URLCONF = "reload_probe_urls"
"""
PROBE_URLS = """from django.conf import settings
from django.urls import include, path

import reload_probe_view

urlpatterns = [
    path({path!r}, reload_probe_view.probe),
    path("", include(settings.HANGAR_PROJECT_URLCONF)),
]
"""


# Variables the platform gives the app (see the contract in docs/architecture.md); with the
# contract's declared ones (app_variables), the probe's app gets none of the caller's, e.g. stack
# outputs that a test process loaded from .hangar/local.env.
APP_CONFIG_PREFIXES = ("DJANGO_", "DATABASE_URL", "DB_", "AWS_")


def app_variables() -> set[str]:
    """What `[tool.hangar]` gives the app: its declared resources' and stages' variables."""
    app = contract()
    return {*app.env_from_outputs, *(k for env in app.stage_env.values() for k in env)}


def isolated_environment(scratch: Path) -> dict[str, str]:
    """The caller's environment without app configuration: development, SQLite in `scratch`."""
    declared = app_variables()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(APP_CONFIG_PREFIXES) and k not in declared
    }
    (scratch / "empty.env").write_text("")
    env.update(
        DJANGO_ENV="development",
        DJANGO_DEBUG="true",
        HANGAR_ENV_FILE=str(scratch / "empty.env"),
        DATABASE_URL=f"sqlite:///{scratch / 'db.sqlite3'}",
        PYTHONUNBUFFERED="1",
    )
    return env


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a local URL
            return str(response.read().decode())
    except (OSError, http.client.HTTPException):
        # Refused, reset, or cut off mid-response while the server restarts: no answer yet.
        return None


@dataclass
class ProbeServer:
    app_dir: Path
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def answer(self) -> str | None:
        return _get(self.url)

    def wait_for(self, token: str, timeout: float) -> float:
        """Seconds until the probe answers `token`; polls every 20 ms."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            # Timed when the answer arrives: hangar.devloop.devserver holds a request made during
            # the
            # reload in its socket's backlog and answers it with the new code.
            if self.answer() == token:
                return time.monotonic() - started
            if self.process.poll() is not None:
                raise RuntimeError(f"the probe server exited; see {self.log}")
            time.sleep(0.02)
        raise TimeoutError(f"no answer {token!r} within {timeout:.0f}s; see {self.log}")

    def change(self, timeout: float = 60.0) -> float:
        """Save a new token into the view module and return the seconds until it is served."""
        # Each new server imports urls.py (and so the probe view) on its first request; the
        # reloaders add newly imported files to their watch set on their next tick, and a change
        # saved before that would go unnoticed. Not part of the measured time. The random part
        # puts the save at a random point of StatReloader's 1 s tick: after a fixed pause every
        # save landed at the same phase (just before a tick) and the comparison measured nothing.
        time.sleep(SETTLE_SECONDS + random.uniform(0, STAT_TICK_SECONDS))  # noqa: S311 - not crypto
        token = uuid.uuid4().hex
        (self.app_dir / "reload_probe_view.py").write_text(PROBE_VIEW.format(token=token))
        return self.wait_for(token, timeout)


@contextmanager
def probe_server(
    reloader: str = "devserver", *, debug: bool = False, in_container: bool = False
) -> Iterator[ProbeServer]:
    """Run the dev server on a copy of the project with the probe view; stop it (whole group) on
    exit.

    `in_container` runs it as `make dev` does in docker mode: compose's `web` service (its image,
    command, debugpy, bind mount and published ports) on the copy, with SQLite instead of the db
    service (the probe view reads no database) and no other service started.
    """
    if reloader not in RELOADERS:
        raise ValueError(f"reloader must be one of {RELOADERS}, not {reloader!r}")
    with tempfile.TemporaryDirectory(prefix="hangar-reload-") as scratch:
        root = Path(scratch)
        root.chmod(0o755)  # readable by the dev image's user
        app_dir = copy_project(root)
        token = uuid.uuid4().hex
        (app_dir / "reload_probe_view.py").write_text(PROBE_VIEW.format(token=token))
        address = ServerAddress(port=ports.spare_port(), debug_port=ports.spare_port())
        if in_container:
            command, env, cleanup = _container_command(root, reloader, address)
        else:
            program: Server = "devserver" if reloader == "devserver" else "runserver"
            command, env, cleanup = (
                server_command(address, program, debug=debug),
                {**isolated_environment(root), "DJANGO_SETTINGS_MODULE": PROBE_SETTINGS_MODULE},
                [],
            )
        log = root / "server.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                cwd=app_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = ProbeServer(app_dir, f"http://127.0.0.1:{address.port}{PROBE_PATH}", log, process)
        try:
            server.wait_for(token, timeout=600 if in_container else 120)  # may build the image
            yield server
        finally:
            for command in cleanup:
                subprocess.run(command, capture_output=True, timeout=120, check=False)
            _stop(process)


def copy_project(root: Path) -> Path:
    """The project, the hangar package and the contract, laid out as in the checkout, with the
    probe's settings and URLs in the project's folder; that folder."""
    app = contract()
    for tree in (app.project_dir, "scripts"):
        shutil.copytree(
            ROOT / tree,
            root / tree,
            ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3", "media", "staticfiles"),
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")  # the container reads it
    app_dir = root / app.project_dir
    (app_dir / f"{PROBE_SETTINGS_MODULE}.py").write_text(
        PROBE_SETTINGS.format(settings=app.settings_module)
    )
    (app_dir / "reload_probe_urls.py").write_text(PROBE_URLS.format(path=PROBE_PATH.lstrip("/")))
    return app_dir


def _container_command(
    root: Path, reloader: str, address: ServerAddress
) -> tuple[list[str], dict[str, str], list[list[str]]]:
    """`docker compose run` of the web service on `root`; and the commands that remove it all."""
    from hangar.core import docker_client

    project = f"hangar-reload-{uuid.uuid4().hex[:8]}"
    compose = docker_client.compose_command(project)
    # compose.yaml publishes the web service's ports from these and mounts HANGAR_SOURCE_DIR.
    env = {
        **os.environ,
        "HANGAR_SOURCE_DIR": str(root),
        "WEB_PORT": str(address.port),
        "DEBUGPY_PORT": str(address.debug_port),
    }
    name = f"{project}-web"
    override: list[str] = []
    if reloader == "stat":
        # The same debugpy command line, with Django's runserver in place of
        # hangar.devloop.devserver.
        inside = ServerAddress(host="0.0.0.0", debug_host="0.0.0.0")  # noqa: S104 - in the container
        override = [*IN_PROJECT, *server_command(inside, "runserver", python="python")]
    command = [
        *compose,
        "run",
        "--rm",
        "--no-deps",
        "--no-TTY",
        "--service-ports",
        f"--name={name}",
        "--env=DATABASE_URL=sqlite:////tmp/probe.sqlite3",
        f"--env=DJANGO_SETTINGS_MODULE={PROBE_SETTINGS_MODULE}",
        "web",
        *override,
    ]
    cleanup = [["docker", "rm", "--force", name], [*compose, "down", "--rmi=local"]]
    return command, env, cleanup


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def measure(reloader: str, runs: int = 5, *, debug: bool = False) -> list[float]:
    """Reload latencies in seconds, one per run, on one probe server."""
    with probe_server(reloader, debug=debug) as server:
        return [server.change() for _ in range(runs)]
