"""The pytest plugin that runs a project's tests and Hangar's against the project `[tool.hangar]`
names, whichever Django project that is.

Loaded with `-p hangar.testing.plugin` (pyproject.toml's pytest addopts), so nothing else names
the project: its settings module and folder come from the contract, its own tests are collected
beside Hangar's when pytest runs without paths (`make test`) or with `--project-tests`, and its
tests get the loopback fixtures below as Hangar's do.
"""

import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hangar.core.contract import Contract, ContractError, contract

# The fixtures of the LocalStack and local stage, of the containers and of the tasks run-task runs,
# for Hangar's integration and end-to-end tests and the project's own.
pytest_plugins = [
    "hangar.testing.localstack",
    "hangar.testing.containers",
    "hangar.testing.run_tasks",
]


def coverage_variables(project: Contract) -> dict[str, str]:
    """The project's folder, and the folder of its WSGI module (the ASGI module sits beside it)."""
    wsgi_module = project.wsgi_application.split(":")[0]
    wsgi_package = project.project_path.joinpath(*wsgi_module.split(".")[:-1])
    return {
        "HANGAR_PROJECT_DIR": str(project.project_path),
        "HANGAR_WSGI_PACKAGE_DIR": str(wsgi_package),
    }


def _project() -> Contract | ContractError:
    try:
        return contract()
    except ContractError as error:  # reported by pytest_configure, as a usage error
        return error


# At import, before any hook: pytest-django reads DJANGO_SETTINGS_MODULE in its own
# pytest_load_initial_conftests, which runs before this plugin's would (entry-point plugins are
# registered after `-p` ones, and pluggy calls the later first).
_PROJECT = _project()
if isinstance(_PROJECT, Contract):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", _PROJECT.settings_module)
    if str(_PROJECT.project_path) not in sys.path:
        sys.path.insert(0, str(_PROJECT.project_path))
    # What pyproject's [tool.coverage.run] measures and omits: pytest-cov reads it in
    # pytest_load_initial_conftests, after this import; xdist's workers inherit the environment.
    os.environ.update(coverage_variables(_PROJECT))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--project-tests",
        action="store_true",
        help="also collect the project's own tests ([tool.hangar] project-dir), as make test does",
    )


def pytest_configure(config: pytest.Config) -> None:
    """The project's tests join the paths collected: by default (testpaths), or when asked."""
    if isinstance(_PROJECT, ContractError):
        raise pytest.UsageError(str(_PROJECT))
    asked = config.getoption("--project-tests")
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS and not asked:
        return
    collected = {Path(config.rootpath, arg.split("::")[0]).resolve() for arg in config.args}
    if _PROJECT.project_path.resolve() not in collected:  # xdist workers get the extended args
        config.args.append(str(_PROJECT.project_path))


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound once by the kernel's choice, closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port this test process listens on (accepts, never answers) for the test."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.fixture
def serve_http() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], int]]:
    """Start a threaded loopback HTTP server with a handler class; its port. Stopped after."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> int:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
