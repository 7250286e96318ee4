"""Builds the CDK app for the stage named in context (`-c stage=`, `-c imageTag=`,
`-c imageDigest=`, `-c certificateArn=`, `-c alarmSubscription=`)."""

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from hangar.core.contract import Contract, ContractError
from hangar.core.contract import contract as checkout_contract
from hangar_infra.config import (
    STAGES,
    certificate_arn_for,
    image_tag_for,
    stage_config,
    with_alarm_subscription,
)
from hangar_infra.image import image_digest_for
from hangar_infra.stage import HangarStage


def build_stage(app: App, contract: Contract | None = None) -> HangarStage:
    """Adds the stage selected by context to `app`, with cdk-nag's AwsSolutions checks on it.

    `contract` is the contract the stage is built for (default: the checkout's `[tool.hangar]`);
    tests pass another to synthesize a differently named service, or one without a worker.

    The checks always run: an unacknowledged finding fails synth (and therefore deploy) for every
    stage, so a risky change cannot reach even LocalStack unnoticed.
    """
    contract = contract or checkout_contract()
    if unknown := sorted(set(contract.stage_env) - set(STAGES)):
        raise ContractError(
            f"[tool.hangar.env.{unknown[0]}] names no stage; use one of: {', '.join(STAGES)}"
        )
    config = with_alarm_subscription(
        stage_config(app.node.try_get_context("stage"), contract),
        app.node.try_get_context("alarmSubscription"),
    )
    image_tag = image_tag_for(config, app.node.try_get_context("imageTag"))
    image_digest = image_digest_for(app.node.try_get_context("imageDigest"))
    certificate_arn = certificate_arn_for(config, app.node.try_get_context("certificateArn"))
    # A digest pins `<repository>@sha256:…` (from_ecr_repository takes a tag or a digest): a deploy
    # runs exactly the image it pushed; the tag alone is only for synth and diff.
    stage = HangarStage(
        app,
        config=config,
        image_tag=image_digest or image_tag,
        certificate_arn=certificate_arn,
        contract=contract,
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stage
