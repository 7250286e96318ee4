"""Which stage gets built, with which image tag — and the clear errors when either is wrong."""

import pytest
from aws_cdk import App

from hangar import infra as tooling
from hangar_infra.app_factory import build_stage
from hangar_infra.config import STAGES, StageConfigError

pytestmark = pytest.mark.infra


def test_unknown_stage_fails_listing_the_stages() -> None:
    with pytest.raises(StageConfigError, match=r"unknown stage 'qa'.*local, dev, staging, prod"):
        build_stage(App(context={"stage": "qa"}))


def test_missing_stage_fails_listing_the_stages() -> None:
    with pytest.raises(StageConfigError, match=r"unknown stage None.*local, dev, staging, prod"):
        build_stage(App())


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_a_real_stage_without_image_tag_fails_saying_what_to_pass(stage: str) -> None:
    with pytest.raises(
        StageConfigError, match=rf"stage '{stage}' needs an image tag: pass -c imageTag="
    ):
        build_stage(App(context={"stage": stage}))


def test_latest_is_refused_as_image_tag() -> None:
    with pytest.raises(StageConfigError, match="'latest' is not allowed"):
        build_stage(App(context={"stage": "prod", "imageTag": "latest"}))


def test_the_cli_knows_the_same_stages_and_stack_names_as_the_app() -> None:
    from hangar_infra.stage import stack_names

    assert tuple(STAGES) == tooling.STAGES
    for stage in STAGES:
        assert tooling.stack_names(stage) == list(stack_names(stage))


def test_auto_delete_requires_a_destroyed_bucket() -> None:
    from dataclasses import replace

    from aws_cdk import RemovalPolicy

    with pytest.raises(StageConfigError, match="auto_delete_objects needs removal_policy DESTROY"):
        replace(STAGES["prod"], auto_delete_objects=True, removal_policy=RemovalPolicy.RETAIN)
