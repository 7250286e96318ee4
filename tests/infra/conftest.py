"""Each stage (and HTTPS variant) is synthesized once per test session for each of two contracts;
the tests read the cloud assemblies:

- `stage`/`synthesized`: the project declaring every feature (tests/declared_project.py), for
  the tests of what the stack builds for a declaration: workers, buckets, queues, WAF upload
  exceptions, scaling on the measured capacity.
- `checkout_stage`: the checkout's own contract, what it deploys, for the rules that hold for
  any project (health checks, the migration's network): hangar.testing.stages' `project_stages`,
  the assemblies the platform's checks read (cdk-nag and cfn-lint on the project's stages,
  hangar.testing.checks), so the session synthesizes them once; `every_stage`: both contracts',
  for those that must also hold with every construct (least privilege, boundaries, retryable
  first deploys).
"""

import pytest
from declared_project import capacity_measured, declaring_everything

from hangar_infra.synthesis import VARIANTS, Synthesized, synthesize_every_variant


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    with capacity_measured():
        return synthesize_every_variant(declaring_everything(), tmp_path_factory.mktemp)


@pytest.fixture(params=VARIANTS)
def stage(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized[request.param]


@pytest.fixture(params=VARIANTS)
def checkout_stage(
    request: pytest.FixtureRequest, project_stages: dict[str, Synthesized]
) -> Synthesized:
    return project_stages[request.param]


@pytest.fixture(
    params=[f"{kind}:{variant}" for kind in ("checkout", "declared") for variant in VARIANTS]
)
def every_stage(
    request: pytest.FixtureRequest,
    synthesized: dict[str, Synthesized],
    project_stages: dict[str, Synthesized],
) -> Synthesized:
    """Both contracts' stages, for the rules every project's stack keeps: the checkout's is what
    it deploys, the declaring one's has every construct a declaration adds. (Both are named here,
    not looked up: `make test` then groups these tests with the assemblies, tests/conftest.py.)
    """
    kind, variant = request.param.split(":")
    return (project_stages if kind == "checkout" else synthesized)[variant]
