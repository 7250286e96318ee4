"""The project's stages, synthesized once per test session for the contract `[tool.hangar]` names:
every stage as it may be deployed (hangar_infra.synthesis VARIANTS). The platform's checks
(hangar.testing.checks) read them, and so may the project's own tests and Hangar's."""

import pytest
from _pytest.nodeid import NodeId

from hangar.core.contract import contract
from hangar_infra.synthesis import VARIANTS, Synthesized, synthesize_every_variant

# The pytest-xdist group of every test that reads the stages: a session fixture runs once per
# worker that uses it, and synthesis is minutes of CPU.
STAGES_GROUP = "cdk-assemblies"


@pytest.fixture(scope="session")
def project_stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    return synthesize_every_variant(contract(), tmp_path_factory.mktemp)


@pytest.fixture(params=VARIANTS)
def project_stage(
    request: pytest.FixtureRequest, project_stages: dict[str, Synthesized]
) -> Synthesized:
    return project_stages[request.param]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist=loadgroup`, the tests that read the stages share one worker (what xdist's
    xdist_group mark does: its scheduler reads the node id's @group suffix; with pytest 9.2 the
    mark's `item._nodeid` no longer sets the node id). A test grouped already keeps its group."""
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers under loadgroup
        return
    for item in items:
        if "project_stages" in getattr(item, "fixturenames", ()) and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{STAGES_GROUP}")
