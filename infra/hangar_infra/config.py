"""What may differ between stages: sizes, counts, retention, removal policy, domain, whether HTTPS
is mandatory — nothing else.

Every stage builds the same resource graph from `StageConfig`; a value that changes *what* exists
(rather than how big or how long it lives) does not belong here. The one per-deploy choice that does
change it, HTTPS, comes from context with the account-specific certificate (`certificate_arn_for`).
"""

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from hangar.core.contract import Contract
from hangar.core.contract import contract as checkout_contract

LOCAL_STAGE = "local"
_CONTEXT = json.loads((Path(__file__).parents[1] / "cdk.json").read_text())["context"]
# The one region every stage is built for; the deploy and bootstrap tooling read the same entry
# (hangar.core.aws_clients.DEFAULT_REGION) and refuse a caller whose AWS_REGION says otherwise.
REGION = _CONTEXT["hangar:region"]
# Each stage's CDK bootstrap qualifier (StageConfig.cdk_qualifier). In cdk.json, like the region,
# so that bootstrap-aws and deploy read it without starting jsii (hangar.cdk.bootstrap_template).
CDK_QUALIFIERS: dict[str, str] = _CONTEXT["hangar:cdkQualifiers"]
# The permissions boundary of every role a stage creates, named per bootstrap (`${Qualifier}`): the
# stage's bootstrap creates it, and CloudFormation may create no role without it.
PERMISSIONS_BOUNDARY: str = _CONTEXT["hangar:permissionsBoundary"]
# LocalStack has no ECR API, so no image is ever pushed for `local`; this fixed tag keeps the task
# definition well-formed and makes "no real image" obvious when reading the template.
LOCAL_IMAGE_TAG = "local"
# An ACM certificate ARN: arn:<partition>:acm:<region>:<account>:certificate/<id>.
CERTIFICATE_ARN_PATTERN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":certificate/(?P<id>[A-Za-z0-9-]+)$"
)
CERTIFICATE_ARN_FORM = "arn:aws:acm:<region>:<account>:certificate/<id>"


class StageConfigError(ValueError):
    """Bad stage selection, image tag or certificate; the message says what to pass instead."""


@dataclass(frozen=True)
class StageConfig:
    name: str
    region: str
    # Fixed for LocalStack (its default account); None lets real stages target the CLI's account.
    account: str | None
    # 0: tasks in public subnets (see constructs/network.py); prod has one per AZ so an AZ outage
    # does not cut the other AZ's tasks off from ECR, Secrets Manager and SQS.
    nat_gateways: int
    web_cpu: int
    web_memory_mib: int
    # Web tasks autoscale between these (hangar_infra.capacity: on requests per task and CPU).
    web_min_count: int
    web_max_count: int
    worker_cpu: int
    worker_memory_mib: int
    worker_min_count: int
    worker_max_count: int
    db_instance_class: str
    db_allocated_storage_gib: int
    db_multi_az: bool
    db_backup_retention_days: int
    log_retention: logs.RetentionDays
    # DESTROY or RETAIN_ON_UPDATE_OR_DELETE for every stateful resource; the database alone is
    # snapshotted on delete when the stage is retained (other types do not support SNAPSHOT).
    # Never plain RETAIN: what a failed first deploy created would survive its rollback, and the
    # fixed names (log groups, repository, database) would make every retry fail "already exists";
    # RETAIN_ON_UPDATE_OR_DELETE (CloudFormation's RetainExceptOnCreate) deletes it then instead.
    removal_policy: RemovalPolicy
    # Empty a bucket before CloudFormation deletes it (a Lambda-backed custom resource, which
    # follows the bucket's removal policy): on every delete of a destroyed stage, and only when a
    # failed first create rolls back for a retained one. CloudFormation cannot delete a bucket
    # that holds objects, and the load balancer writes a test object into the log bucket as soon
    # as it exists: without this a first create that failed after it ends ROLLBACK_FAILED.
    auto_delete_objects: bool
    versioned_bucket: bool
    # RDS deletion protection: only where losing the database is not an option (prod). It comes
    # on once the stack's first create completed (constructs/database.py says why).
    deletion_protection: bool
    queue_max_receive_count: int
    queue_visibility_timeout_seconds: int
    health_check_grace_seconds: int
    # The stage's public host name; `{service}` stands for the contract's service name, which
    # stage_config() fills in.
    domain: str | None = None
    # The stage may not be deployed without an HTTPS listener (`-c certificateArn=`). The
    # certificate itself is account-specific, so it comes from context, not from here.
    requires_https: bool = False
    # Hosts the app answers besides the load balancer's DNS name and `domain` (local: the laptop).
    extra_allowed_hosts: tuple[str, ...] = ()
    # Who hears the alarms: an e-mail address or an https:// endpoint subscribed to the alarm topic.
    # Team- and account-specific, so it comes from context (`-c alarmSubscription=`), not from here.
    alarm_subscription: str | None = None
    # AWS WAF on the load balancer (constructs/web_firewall.py): managed rules and a rate limit.
    web_firewall: bool = False
    # The contract's schedules become EventBridge Scheduler schedules (constructs/schedules.py).
    runs_schedules: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.nat_gateways <= 2:
            raise StageConfigError(f"stage {self.name!r}: nat_gateways must be 0..2 (2 AZs)")
        if self.removal_policy not in (
            RemovalPolicy.DESTROY,
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        ):
            raise StageConfigError(
                f"stage {self.name!r}: removal_policy is DESTROY or RETAIN_ON_UPDATE_OR_DELETE "
                "(plain RETAIN keeps what a failed first deploy created, and the retry fails)"
            )
        if not 1 <= self.web_min_count <= self.web_max_count:
            raise StageConfigError(f"stage {self.name!r}: need 1 <= web_min_count <= web_max_count")
        if self.worker_min_count > self.worker_max_count:
            raise StageConfigError(f"stage {self.name!r}: worker_min_count > worker_max_count")
        if self.web_firewall and self.name == LOCAL_STAGE:
            raise StageConfigError(
                "stage 'local' cannot have a web firewall: LocalStack has no ELBv2"
            )
        if self.requires_https and self.name == LOCAL_STAGE:
            raise StageConfigError("stage 'local' cannot require HTTPS: LocalStack has no ELBv2")
        if self.name not in CDK_QUALIFIERS:
            raise StageConfigError(
                f"stage {self.name!r} has no CDK bootstrap qualifier in infra/cdk.json "
                "(hangar:cdkQualifiers)"
            )

    @property
    def cdk_qualifier(self) -> str:
        """The CDK bootstrap this stage deploys through (roles cdk-<qualifier>-…). Stages that may
        share an AWS account have their own: each GitHub deploy role may assume only its stage's
        bootstrap roles, whose deploy role may only change its stage's stacks
        (hangar.cdk.bootstrap_template)."""
        return CDK_QUALIFIERS[self.name]

    @property
    def availability_zones(self) -> list[str]:
        """Named, not looked up: synth stays offline and identical wherever it runs."""
        return [f"{self.region}a", f"{self.region}b"]

    @property
    def database_removal_policy(self) -> RemovalPolicy:
        if self.removal_policy is RemovalPolicy.DESTROY:
            return RemovalPolicy.DESTROY
        return RemovalPolicy.SNAPSHOT


# The disposable cloud stage; `local` is the same small stage adapted to LocalStack.
_DEV = StageConfig(
    name="dev",
    region=REGION,
    account=None,
    nat_gateways=0,
    web_cpu=256,
    web_memory_mib=512,
    web_min_count=1,
    web_max_count=2,
    worker_cpu=256,
    worker_memory_mib=512,
    worker_min_count=0,
    worker_max_count=2,
    db_instance_class="t4g.micro",
    db_allocated_storage_gib=20,
    db_multi_az=False,
    db_backup_retention_days=1,
    log_retention=logs.RetentionDays.ONE_WEEK,
    removal_policy=RemovalPolicy.DESTROY,
    deletion_protection=False,
    auto_delete_objects=True,
    versioned_bucket=False,
    queue_max_receive_count=5,
    queue_visibility_timeout_seconds=60,
    health_check_grace_seconds=60,
    domain="dev.{service}.example.com",
)

STAGES: dict[str, StageConfig] = {
    "local": replace(
        _DEV,
        name="local",
        account="000000000000",
        log_retention=logs.RetentionDays.ONE_DAY,
        # LocalStack without Docker cannot run the custom resource's Lambda; its S3 deletes the
        # bucket with its objects anyway when the stack is destroyed.
        auto_delete_objects=False,
        # Small so a poisoned message reaches the DLQ within seconds in integration tests.
        queue_max_receive_count=3,
        queue_visibility_timeout_seconds=5,
        domain=None,
        extra_allowed_hosts=("localhost", "127.0.0.1"),
        # LocalStack's free edition runs no ECS task and answers a task definition's ARN with a
        # placeholder no policy takes; `make schedule` runs a schedule's command by hand instead.
        runs_schedules=False,
    ),
    "dev": _DEV,
    "staging": StageConfig(
        name="staging",
        region=REGION,
        account=None,
        nat_gateways=1,
        web_cpu=512,
        web_memory_mib=1024,
        web_min_count=2,
        web_max_count=6,
        worker_cpu=512,
        worker_memory_mib=1024,
        worker_min_count=1,
        worker_max_count=4,
        db_instance_class="t4g.small",
        db_allocated_storage_gib=20,
        db_multi_az=False,
        db_backup_retention_days=7,
        log_retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        deletion_protection=False,
        auto_delete_objects=True,
        versioned_bucket=True,
        queue_max_receive_count=5,
        queue_visibility_timeout_seconds=120,
        health_check_grace_seconds=90,
        domain="staging.{service}.example.com",
    ),
    "prod": StageConfig(
        name="prod",
        region=REGION,
        account=None,
        nat_gateways=2,
        web_cpu=1024,
        web_memory_mib=2048,
        web_min_count=3,
        web_max_count=20,
        worker_cpu=1024,
        worker_memory_mib=2048,
        worker_min_count=2,
        worker_max_count=10,
        db_instance_class="m7g.large",
        db_allocated_storage_gib=100,
        db_multi_az=True,
        db_backup_retention_days=30,
        log_retention=logs.RetentionDays.SIX_MONTHS,
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        deletion_protection=True,
        auto_delete_objects=True,
        versioned_bucket=True,
        queue_max_receive_count=5,
        queue_visibility_timeout_seconds=300,
        health_check_grace_seconds=120,
        domain="{service}.example.com",
        requires_https=True,
        web_firewall=True,
    ),
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
