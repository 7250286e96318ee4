"""Which tests share a pytest-xdist worker under `--dist=loadgroup` (`make test`), the project's as
Hangar's.

Each xdist worker is a pytest session of its own, so a session fixture runs once per worker that
uses it. A test that uses one of the platform's fixtures that start something shared therefore
goes to that fixture's group, on one worker: the compose stack and LocalStack, which deploy the
local stage through the repository's .hangar/local.env (two at once would overwrite each other's),
the runtime image and Docker as CI provisions it, and the project's synthesized stages (minutes of
CPU). xdist's own `xdist_group` mark does the same, but pytest 9.2 no longer lets it set the id
its scheduler reads the group from.
"""

import pytest
from _pytest.nodeid import NodeId

LOCAL_STAGE_GROUP = "local-stage"
DOCKER_GROUP = "docker"
STAGES_GROUP = "cdk-assemblies"
# Session fixture → the group of every test that uses it (through other fixtures too); the first
# match wins.
SESSION_FIXTURE_GROUPS = {
    "compose": LOCAL_STAGE_GROUP,
    "localstack_endpoint": LOCAL_STAGE_GROUP,
    "runtime_image": DOCKER_GROUP,
    "docker_as_ci_provisions_it": DOCKER_GROUP,
    "project_stages": STAGES_GROUP,
}


def fixture_group(item: pytest.Item, groups: dict[str, str]) -> str | None:
    fixtures = getattr(item, "fixturenames", ())
    return next((group for fixture, group in groups.items() if fixture in fixtures), None)


def put_in_group(item: pytest.Item, group: str) -> None:
    """What the xdist_group mark does: the scheduler reads the node id's @group suffix."""
    item._id = NodeId.parse(f"{item.nodeid}@{group}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test grouped already (by a conftest of the repository's) keeps its group."""
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers under loadgroup
        return
    for item in items:
        if "@" not in item.nodeid and (group := fixture_group(item, SESSION_FIXTURE_GROUPS)):
            put_in_group(item, group)
