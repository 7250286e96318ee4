"""Each stage (and HTTPS variant) is synthesized once per test session; the tests read the cloud
assemblies."""

import pytest
from cdk_synth import VARIANTS, Synthesized, synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    return {
        name: synthesize(stage, tmp_path_factory.mktemp(f"cdk-{stage}"), certificate_arn)
        for name, (stage, certificate_arn) in VARIANTS.items()
    }


@pytest.fixture(params=VARIANTS)
def stage(request: pytest.FixtureRequest, synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized[request.param]
