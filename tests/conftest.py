"""Which of Hangar's own tests share a worker when `make test` runs them in parallel (pytest-xdist,
loadgroup), beside what hangar.testing.groups groups for any project.

The fixtures of this repository's tests that start something shared join the platform's groups:
the CDK assemblies of tests/infra, and a test that deploys the local stage into a LocalStack of
its own. Each other integration and e2e module goes to one worker too, for its module fixtures.
Everything else (unit and infra tests) is spread over the workers by load.
"""

import os
from collections.abc import Iterator

import pytest
from declared_project import capacity_measured, declaring_everything, pinning

from hangar.core.contract import Contract
from hangar.core.processes import interruptible
from hangar.testing.groups import (
    LOCAL_STAGE_GROUP,
    SESSION_FIXTURE_GROUPS,
    STAGES_GROUP,
    fixture_group,
    put_in_group,
)
from hangar.testing.localstack import HIDDEN_DOCKER_HOST

# Under CI the Docker tests wait for provisioning at first (.ci/run): those outside the local
# stage wait together, on one worker, while the others run the unit and infra tests.
SHARED_SESSION_FIXTURES = {
    **SESSION_FIXTURE_GROUPS,
    "synthesized": STAGES_GROUP,
    "local_stage_state": LOCAL_STAGE_GROUP,
}


def xdist_group(item: pytest.Item) -> str | None:
    if group := fixture_group(item, SHARED_SESSION_FIXTURES):
        return group
    if item.get_closest_marker("e2e") or item.get_closest_marker("integration"):
        # Module fixtures there start containers, LocalStacks, dev servers or a browser: once, on
        # one worker (spread by load, a module's tests each started them again on their worker).
        return item.path.stem
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers under loadgroup
        return
    for item in items:
        if group := xdist_group(item):
            put_in_group(item, group)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hide-docker",
        action="store_true",
        help="run as on a machine without Docker: no test, command or harness finds the engine",
    )


def pytest_configure(config: pytest.Config) -> None:
    # The interruption tests signal processes (this one too) that inherit this one's SIGINT: a
    # `make test` started in the background by a shell would have them ignore it, and wait.
    interruptible()
    if config.getoption("--hide-docker"):
        os.environ["DOCKER_HOST"] = HIDDEN_DOCKER_HOST


@pytest.fixture(autouse=True)
def _no_engine_on_the_path_without_docker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test of the path without Docker runs with the engine hidden, in `make test` too: it, and
    every command it starts, finds none, as on a machine without Docker. So `make test` proves both
    modes in one run, and CI needs no second pass (the session fixtures, set up before this one,
    keep the engine the rest of the suite uses)."""
    if request.node.get_closest_marker("without_docker"):
        monkeypatch.setenv("DOCKER_HOST", HIDDEN_DOCKER_HOST)


@pytest.fixture(scope="session")
def without_docker() -> dict[str, str]:
    """The environment a command gets to run as on a machine without Docker."""
    return {"DOCKER_HOST": HIDDEN_DOCKER_HOST}


@pytest.fixture(scope="session")
def docker_engine(docker_as_ci_provisions_it: None) -> None:
    """A Docker engine that answers. Without one the test skips with the reason, except under
    CI=true, which provisions the engine: a skip there would pass CI without the test."""
    from hangar.core import docker_client

    if docker_client.engine_responds():
        return
    message = "no Docker engine answers: start Docker, or run `make docker-provision` as root"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def local_stage_state() -> None:
    """For a test that deploys the local stage itself (into a LocalStack of its own): it writes
    this checkout's .hangar/local.env, deploy record and cdk.out/local, so it runs in the group
    of the tests that share them, one after the other."""


@pytest.fixture
def declared_contract() -> Iterator[Contract]:
    """`contract()` is declaring_everything() for the test, and its page's capacity is measured:
    for tests of what a project may declare, whatever the checkout's project declares, and tests
    whose expected AWS names are written for a service called `hangar`."""
    pinned = declaring_everything()
    with pinning(pinned), capacity_measured():
        yield pinned
