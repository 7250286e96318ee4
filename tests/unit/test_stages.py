"""The stages' plain facts (hangar.core.stages), the one place the CLI and the CDK app read them."""

from dataclasses import replace

import pytest

from hangar.core import stages
from hangar.core.stages import STAGES, StageConfigError


def test_every_stage_is_built_for_the_one_configured_region() -> None:
    assert {stage.region for stage in STAGES.values()} == {stages.REGION}


def test_local_is_the_stage_in_localstacks_account_and_every_other_is_deployed_to_aws() -> None:
    assert STAGES[stages.LOCAL_STAGE].account == stages.LOCALSTACK_ACCOUNT
    assert stages.AWS_STAGES == ("dev", "staging", "prod")
    assert stages.HTTPS_REQUIRED_STAGES == ("prod",)


def test_a_stage_without_a_bootstrap_qualifier_in_cdk_json_is_refused() -> None:
    with pytest.raises(StageConfigError, match="stage 'qa' has no CDK bootstrap qualifier"):
        replace(STAGES["dev"], name="qa")
