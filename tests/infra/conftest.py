"""Each stage (and HTTPS variant) is synthesized once per test session for each of two contracts;
the tests read the cloud assemblies:

- `stage`/`synthesized`: the project declaring every feature (tests/declared_project.py), for
  the tests of what the stack builds for a declaration: workers, buckets, queues, WAF upload
  exceptions, scaling on the measured capacity.
- `checkout_stage`/`checkout_synthesized`: the checkout's own contract, what it deploys, for the
  rules that hold for any project (health checks, the migration's network); `every_stage`: both
  contracts', for those that must also hold with every construct (cdk-nag, cfn-lint, least
  privilege, boundaries, retryable first deploys).
"""

import pytest
from cdk_synth import VARIANTS, Synthesized, synthesize
from declared_project import capacity_measured, declaring_everything

from hangar.core.contract import Contract, contract


def synthesize_every_variant(
    service: Contract, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Synthesized]:
    return {
        name: synthesize(stage, tmp_path_factory.mktemp(f"cdk-{stage}"), certificate_arn, service)
        for name, (stage, certificate_arn) in VARIANTS.items()
    }


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    with capacity_measured():
        return synthesize_every_variant(declaring_everything(), tmp_path_factory)


@pytest.fixture(scope="session")
def checkout_synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    return synthesize_every_variant(contract(), tmp_path_factory)


@pytest.fixture(params=VARIANTS)
def stage(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized[request.param]


@pytest.fixture(params=VARIANTS)
def checkout_stage(
    request: pytest.FixtureRequest, checkout_synthesized: dict[str, Synthesized]
) -> Synthesized:
    return checkout_synthesized[request.param]


@pytest.fixture(
    params=[f"{kind}:{variant}" for kind in ("checkout", "declared") for variant in VARIANTS]
)
def every_stage(
    request: pytest.FixtureRequest,
    synthesized: dict[str, Synthesized],
    checkout_synthesized: dict[str, Synthesized],
) -> Synthesized:
    """Both contracts' stages, for the rules every project's stack keeps: the checkout's is what
    it deploys, the declaring one's has every construct a declaration adds. (Both are named here,
    not looked up: `make test` then groups these tests with the assemblies, tests/conftest.py.)
    """
    kind, variant = request.param.split(":")
    return (checkout_synthesized if kind == "checkout" else synthesized)[variant]
