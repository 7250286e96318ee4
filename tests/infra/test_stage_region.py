"""The CDK app builds every stage for the region the tooling deploys to: one entry, read by both."""

from hangar.core.aws_clients import DEFAULT_REGION
from hangar_infra.config import REGION, STAGES


def test_every_stage_is_built_for_the_one_configured_region() -> None:
    assert REGION == DEFAULT_REGION
    assert {config.region for config in STAGES.values()} == {REGION}
