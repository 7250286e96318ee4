"""The project's stages, synthesized once per test session for the contract `[tool.hangar]` names:
every stage as it may be deployed (hangar_infra.synthesis VARIANTS). The platform's checks
(hangar.testing.checks) read them, and so may the project's own tests and Hangar's."""

import pytest

from hangar.core.contract import contract
from hangar_infra.synthesis import VARIANTS, Synthesized, synthesize_every_variant


@pytest.fixture(scope="session")
def project_stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    return synthesize_every_variant(contract(), tmp_path_factory.mktemp)


@pytest.fixture(params=VARIANTS)
def project_stage(
    request: pytest.FixtureRequest, project_stages: dict[str, Synthesized]
) -> Synthesized:
    return project_stages[request.param]
