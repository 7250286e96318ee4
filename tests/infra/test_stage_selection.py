"""Which stage gets built, with which image tag — and the clear errors when either is wrong."""

import re

import pytest
from aws_cdk import App

from hangar.core.contract import contract
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


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_prod_without_a_certificate_fails_saying_what_to_pass() -> None:
    with pytest.raises(
        StageConfigError,
        match=r"stage 'prod' must serve HTTPS: pass -c certificateArn="
        r"arn:aws:acm:us-east-1:<account>:certificate/<id> "
        rf"\(an ACM certificate for {re.escape(contract().service_name)}\.example\.com "
        r"in us-east-1\)",
    ):
        build_stage(App(context={"stage": "prod", "imageTag": SHA}))


@pytest.mark.parametrize("stage", ["dev", "staging"])
def test_dev_and_staging_may_run_without_a_certificate(stage: str) -> None:
    from hangar_infra.config import certificate_arn_for

    assert certificate_arn_for(STAGES[stage], None) is None
    assert certificate_arn_for(STAGES[stage], "") is None


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:acm:us-east-1:123456789012:certificate/",  # no id
        "arn:aws:acm:us-east-1:12345:certificate/abc",  # account is not 12 digits
        "arn:aws:iam::123456789012:server-certificate/abc",  # not ACM
        f" {CERTIFICATE}",
    ],
)
def test_a_malformed_certificate_arn_is_refused_showing_the_expected_form(arn: str) -> None:
    with pytest.raises(StageConfigError) as error:
        build_stage(App(context={"stage": "staging", "imageTag": SHA, "certificateArn": arn}))
    message = str(error.value)
    assert f"certificateArn {arn!r} is not an ACM certificate ARN" in message
    assert "expected arn:aws:acm:<region>:<account>:certificate/<id>" in message


def test_a_certificate_of_another_region_is_refused() -> None:
    arn = CERTIFICATE.replace("us-east-1", "eu-west-1")
    with pytest.raises(
        StageConfigError, match=r"is in eu-west-1, but stage 'prod' deploys to us-east-1"
    ):
        build_stage(App(context={"stage": "prod", "imageTag": SHA, "certificateArn": arn}))


def test_the_local_stage_refuses_a_certificate() -> None:
    with pytest.raises(
        StageConfigError, match=r"stage 'local' cannot take -c certificateArn.*ELBv2"
    ):
        build_stage(App(context={"stage": "local", "certificateArn": CERTIFICATE}))


def test_only_prod_requires_https_and_local_never_can() -> None:
    from dataclasses import replace

    assert [name for name, config in STAGES.items() if config.requires_https] == ["prod"]
    with pytest.raises(StageConfigError, match="'local' cannot require HTTPS"):
        replace(STAGES["local"], requires_https=True)


def test_plain_retain_is_refused_because_a_failed_first_deploy_could_not_be_retried() -> None:
    from dataclasses import replace

    with pytest.raises(StageConfigError, match="plain RETAIN keeps what a failed first deploy"):
        replace(STAGES["staging"], removal="retain")


def test_a_log_retention_the_cdk_app_has_no_value_for_is_refused() -> None:
    from dataclasses import replace

    with pytest.raises(StageConfigError, match="log_retention_days is one of 1, 7, 30, 180"):
        replace(STAGES["dev"], log_retention_days=2)
