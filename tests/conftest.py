"""Which tests share a worker when `make test` runs them in parallel (pytest-xdist, loadgroup).

Each xdist worker is a pytest session of its own, so a session fixture runs once per worker that
uses it. The tests that use a fixture starting something shared therefore go to one worker (an
xdist group): the compose project and the local stage it deploys, the CDK assemblies, the runtime
image and Docker as CI provisions it; each other integration and e2e module goes to one worker too,
for its module fixtures. Everything else (unit and infra tests) is spread over the workers by load.
"""

import os

import pytest
from _pytest.nodeid import NodeId

# Session fixture → the group of every test that uses it, first match wins. The integration
# harness's LocalStack and the e2e compose stack share one group: both deploy the local stage
# through this checkout's .hangar/local.env, deploy record and cdk.out/local, one after the other.
# Under CI the Docker tests wait for provisioning at first (.ci/run): those outside the local
# stage wait together, on one worker, while the others run the unit and infra tests.
SHARED_SESSION_FIXTURES = {
    "compose": "local-stage",
    "localstack_endpoint": "local-stage",
    "synthesized": "cdk-assemblies",
    "runtime_image": "docker",
    "docker_as_ci_provisions_it": "docker",
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


@pytest.fixture(scope="session")
def docker_as_ci_provisions_it() -> None:
    """Under CI the Docker engine, its plugins and images are provisioned while the first tests
    run (.ci/run): a test that needs them waits for that provisioning (or does it). Elsewhere the
    machine has what it has, and the test says what it needs."""
    if os.environ.get("CI", "").lower() == "true":
        from hangar.provision import docker

        docker.provision_all()
