"""Each stage's StageConfig: the plain facts of hangar.core.stages (sizes, counts, retention,
removal, domain, whether HTTPS is mandatory) with the CDK's types the constructs take, and the
per-deploy choices from context: the image, and HTTPS, which comes with the account-specific
certificate (`certificate_arn_for`).
"""

import re
from dataclasses import dataclass, fields, replace

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from hangar.core import stages
from hangar.core.contract import Contract
from hangar.core.contract import contract as checkout_contract
from hangar.core.stages import LOCAL_STAGE, StageConfigError

# LocalStack has no ECR API, so no image is ever pushed for `local`; this fixed tag keeps the task
# definition well-formed and makes "no real image" obvious when reading the template.
LOCAL_IMAGE_TAG = "local"
# An ACM certificate ARN: arn:<partition>:acm:<region>:<account>:certificate/<id>.
CERTIFICATE_ARN_PATTERN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":certificate/(?P<id>[A-Za-z0-9-]+)$"
)
CERTIFICATE_ARN_FORM = "arn:aws:acm:<region>:<account>:certificate/<id>"
# The CDK's values for the stages' plain facts (hangar.core.stages).
LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    30: logs.RetentionDays.ONE_MONTH,
    180: logs.RetentionDays.SIX_MONTHS,
}
REMOVAL_POLICY = {
    stages.DESTROY: RemovalPolicy.DESTROY,
    stages.RETAIN_EXCEPT_ON_CREATE: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
}


@dataclass(frozen=True)
class StageConfig(stages.Stage):
    """A stage (hangar.core.stages) with the CDK's types for what the constructs take."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.log_retention_days not in LOG_RETENTION:
            raise StageConfigError(
                f"stage {self.name!r}: log_retention_days is one of "
                f"{', '.join(map(str, LOG_RETENTION))}"
            )

    @classmethod
    def of(cls, stage: stages.Stage) -> "StageConfig":
        return cls(**{field.name: getattr(stage, field.name) for field in fields(stage)})

    @property
    def log_retention(self) -> logs.RetentionDays:
        return LOG_RETENTION[self.log_retention_days]

    @property
    def removal_policy(self) -> RemovalPolicy:
        return REMOVAL_POLICY[self.removal]

    @property
    def database_removal_policy(self) -> RemovalPolicy:
        if self.removal_policy is RemovalPolicy.DESTROY:
            return RemovalPolicy.DESTROY
        return RemovalPolicy.SNAPSHOT


STAGES: dict[str, StageConfig] = {
    name: StageConfig.of(stage) for name, stage in stages.STAGES.items()
}


def stage_config(name: str | None, contract: Contract | None = None) -> StageConfig:
    """The config for `name`, its domain named after the service (default: the checkout's
    contract); an unknown or missing name is an error that lists the valid ones."""
    if name not in STAGES:
        raise StageConfigError(
            f"unknown stage {name!r}; pass -c stage=<name> with one of: {', '.join(STAGES)}"
        )
    config = STAGES[name]
    if config.domain is None:
        return config
    service_name = (contract or checkout_contract()).service_name
    return replace(config, domain=config.domain.format(service=service_name))


def image_tag_for(config: StageConfig, image_tag: str | None) -> str:
    """The tag the services run. Real stages must name an immutable tag (the git SHA) explicitly."""
    if not image_tag:
        if config.name == LOCAL_STAGE:
            return LOCAL_IMAGE_TAG
        raise StageConfigError(
            f"stage {config.name!r} needs an image tag: pass -c imageTag=<git sha> "
            "(the tag pushed to the stage's ECR repository)"
        )
    if image_tag == "latest":
        raise StageConfigError(
            "imageTag 'latest' is not allowed: tags are immutable, pass the git SHA of the image"
        )
    return image_tag


def certificate_arn_for(config: StageConfig, certificate_arn: str | None) -> str | None:
    """The ACM certificate of the HTTPS listener, or None for a stage served over HTTP only."""
    if not certificate_arn:
        if config.requires_https:
            where = f" for {config.domain}" if config.domain else ""
            raise StageConfigError(
                f"stage {config.name!r} must serve HTTPS: pass -c certificateArn="
                f"{CERTIFICATE_ARN_FORM.replace('<region>', config.region)} "
                f"(an ACM certificate{where} in {config.region})"
            )
        return None
    if config.name == LOCAL_STAGE:
        raise StageConfigError(
            "stage 'local' cannot take -c certificateArn: LocalStack (free) has no ELBv2, so the "
            "local stage serves HTTP only; drop the certificate"
        )
    match = CERTIFICATE_ARN_PATTERN.fullmatch(certificate_arn)
    if match is None:
        raise StageConfigError(
            f"certificateArn {certificate_arn!r} is not an ACM certificate ARN; expected "
            f"{CERTIFICATE_ARN_FORM}, e.g. arn:aws:acm:{config.region}:123456789012:certificate/"
            "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
        )
    if match["region"] != config.region:
        raise StageConfigError(
            f"certificateArn {certificate_arn!r} is in {match['region']}, but stage "
            f"{config.name!r} deploys to {config.region}: a load balancer can only use an ACM "
            f"certificate of its own region; request or import one in {config.region}"
        )
    return certificate_arn


ALARM_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def with_alarm_subscription(config: StageConfig, subscription: str | None) -> StageConfig:
    """The stage with its alarm subscription: an e-mail address or an https:// URL, or none."""
    subscription = (subscription or "").strip() or None
    if subscription is None:
        return config
    if config.name == LOCAL_STAGE:
        raise StageConfigError(
            "stage 'local' cannot take -c alarmSubscription: LocalStack sends no e-mail and "
            "calls no endpoint; drop it"
        )
    if not (subscription.startswith("https://") or ALARM_EMAIL_PATTERN.fullmatch(subscription)):
        raise StageConfigError(
            f"alarmSubscription {subscription!r} is neither an e-mail address nor an https:// URL"
        )
    return replace(config, alarm_subscription=subscription)
