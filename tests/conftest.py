"""Which tests share a worker when `make test` runs them in parallel (pytest-xdist, loadgroup).

Each xdist worker is a pytest session of its own, so a session fixture runs once per worker that
uses it. The tests that use a fixture starting something shared therefore go to one worker (an
xdist group): the compose project and the local stage it deploys, the CDK assemblies, the runtime
image. Everything else (unit tests, host-only e2e tests) is spread over the workers by load.
"""

import pytest

# Session fixture → the group of every test that uses it, first match wins. The integration
# harness's LocalStack and the e2e compose stack share one group: both deploy the local stage
# through this checkout's .hangar/local.env, deploy record and cdk.out/local, one after the other.
SHARED_SESSION_FIXTURES = {
    "compose": "local-stage",
    "localstack_endpoint": "local-stage",
    "synthesized": "cdk-assemblies",
    "runtime_image": "runtime-image",
}


def xdist_group(item: pytest.Item) -> str | None:
    for fixture, group in SHARED_SESSION_FIXTURES.items():
        if fixture in item.fixturenames:  # the closure: fixtures the test uses through others too
            return group
    if item.get_closest_marker("e2e"):
        # Module fixtures there start containers, dev servers or a browser: once, on one worker.
        return item.path.stem
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if group := xdist_group(item):
            item.add_marker(pytest.mark.xdist_group(group))
