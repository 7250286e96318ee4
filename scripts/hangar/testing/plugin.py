"""The pytest plugin that runs a project's tests and Hangar's against the project `[tool.hangar]`
names, whichever Django project that is.

Loaded with `-p hangar.testing.plugin` (pyproject.toml's pytest addopts), so nothing else names
the project: its settings module and folder come from the contract, its own tests are collected
beside Hangar's when pytest runs without paths (`make test`) or with `--project-tests`, and its
tests get the loopback fixtures below as Hangar's do. The platform's checks on the project
(hangar.testing.checks: its stages against cdk-nag and cfn-lint, its health and readiness paths)
join them the same way, or by layer with `--platform-checks unit|infra`: a repository that
installs the package runs them with its own tests, and has tests to run before it writes any.
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
    "hangar.testing.stages",
    # Which of the tests using them share a worker under `make test`'s --dist=loadgroup.
    "hangar.testing.groups",
]
# The platform's checks by the layer `make test-unit` and `make test-infra` run, a folder each
# (collected as folders, their tests' ids start at the module's name wherever the package is).
PLATFORM_CHECKS = {layer: Path(__file__).parent / "checks" / layer for layer in ("unit", "infra")}
# The markers of the test layers (the Makefile's test-* targets select by them), for the
# project's tests too: under --strict-markers an unregistered one is an error.
MARKERS = (
    "integration: needs LocalStack (started by the harness when not running)",
    "infra: synthesizes the CDK app",
    "e2e: builds and runs the containers",
)


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
    parser.addoption(
        "--platform-checks",
        action="append",
        choices=sorted(PLATFORM_CHECKS),
        help="also collect the platform's checks of that layer on the project, as make test-unit "
        "and make test-infra do (make test: every layer's)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """The project's tests and the platform's checks join the paths collected: all of them when
    pytest runs without paths (`make test`), those asked for otherwise. Without paths and without
    testpaths (a repository that installs the package) they replace the current folder."""
    if isinstance(_PROJECT, ContractError):
        raise pytest.UsageError(str(_PROJECT))
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    project_tests = config.getoption("--project-tests")
    layers = config.getoption("--platform-checks") or []
    if config.args_source is not pytest.Config.ArgsSource.ARGS and not (project_tests or layers):
        project_tests, layers = True, list(PLATFORM_CHECKS)
    if config.args_source is pytest.Config.ArgsSource.INVOCATION_DIR:
        config.args.clear()
    paths = [
        *([_PROJECT.project_path] if project_tests else []),
        *(PLATFORM_CHECKS[layer] for layer in layers),
    ]
    collected = {Path(config.rootpath, arg.split("::")[0]).resolve() for arg in config.args}
    for path in paths:
        if path.resolve() not in collected:  # xdist workers get the extended args
            config.args.append(str(path))


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The checks' folders are collected wherever the package is: pytest never enters a virtual
    environment in the repository (uv's .venv), not even for a path named in it once the root is
    named too (a project in the repository's root). So the folders from the root down to each
    check folder asked for are entered, and nothing else beside them below the root."""
    # config.args: pytest_configure's, which each xdist worker gets as its own.
    asked = [folder for folder in PLATFORM_CHECKS.values() if str(folder) in config.args]
    if any(collection_path == folder or folder in collection_path.parents for folder in asked):
        return False
    route = {parent for folder in asked for parent in folder.parents}
    if collection_path in route:
        return False
    below_root = {folder for folder in route if config.rootpath in folder.parents}
    return True if collection_path.parent in below_root else None


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
