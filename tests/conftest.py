"""Which tests share a worker when `make test` runs them in parallel (pytest-xdist, loadgroup).

Each xdist worker is a pytest session of its own, so a session fixture runs once per worker that
uses it. The tests that use a fixture starting something shared therefore go to one worker (an
xdist group): the compose project and the local stage it deploys, the CDK assemblies, the runtime
image and Docker as CI provisions it; each other integration and e2e module goes to one worker too,
for its module fixtures. Everything else (unit and infra tests) is spread over the workers by load.
"""

import os
from collections.abc import Iterator

import pytest
from _pytest.nodeid import NodeId
from declared_project import capacity_measured, declaring_everything, pinning

from hangar.core.contract import Contract
from hangar.testing.localstack import HIDDEN_DOCKER_HOST
from hangar.testing.stages import STAGES_GROUP

# Session fixture → the group of every test that uses it, first match wins. The integration
# harness's LocalStack and the e2e compose stack share one group: both deploy the local stage
# through this checkout's .hangar/local.env, deploy record and cdk.out/local, one after the other.
# Under CI the Docker tests wait for provisioning at first (.ci/run): those outside the local
# stage wait together, on one worker, while the others run the unit and infra tests.
SHARED_SESSION_FIXTURES = {
    "compose": "local-stage",
    "localstack_endpoint": "local-stage",
    # The project's stages (project_stages) are grouped by hangar.testing.plugin, under this name.
    "synthesized": STAGES_GROUP,
    "runtime_image": "docker",
    "docker_as_ci_provisions_it": "docker",
    "local_stage_state": "local-stage",
}


def xdist_group(item: pytest.Item) -> str | None:
    for fixture, group in SHARED_SESSION_FIXTURES.items():
        if fixture in item.fixturenames:  # the closure: fixtures the test uses through others too
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
            # What xdist's own xdist_group mark does (the scheduler reads the node id's @group
            # suffix), done here: with pytest 9.2 its `item._nodeid` no longer sets the node id.
            item._id = NodeId.parse(f"{item.nodeid}@{group}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hide-docker",
        action="store_true",
        help="run as on a machine without Docker: no test, command or harness finds the engine",
    )


def pytest_configure(config: pytest.Config) -> None:
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
