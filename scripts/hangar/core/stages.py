"""The stages, as plain facts both the CLI and the CDK app read: their names, region, account,
sizes, counts, retention, removal, domain and CDK bootstrap. One place, no CDK import: the CLI
checks a stage and `hangar bench` reads a task's size without starting jsii, and the CDK app
(hangar_infra.config) builds its StageConfig, with the CDK's types, from these.

What may differ between stages is sizes, counts, retention, removal, domain and whether HTTPS is
mandatory, nothing else: every stage builds the same resource graph, so a value that changes *what*
exists (rather than how big or how long it lives) does not belong here.
"""

import json
from dataclasses import dataclass, replace
from typing import Any

from hangar.core.errors import HangarError
from hangar.core.paths import project_file

_CONTEXT: dict[str, Any] = json.loads(project_file("infra/cdk.json").read_text())["context"]
# The one region every stage is built for. In infra/cdk.json, where the workflows read it too; the
# deploy and bootstrap tooling refuse a caller whose AWS_REGION says otherwise.
REGION: str = _CONTEXT["hangar:region"]
# Each stage's CDK bootstrap qualifier (Stage.cdk_qualifier), in infra/cdk.json beside the region.
CDK_QUALIFIERS: dict[str, str] = {
    str(stage): str(qualifier) for stage, qualifier in _CONTEXT["hangar:cdkQualifiers"].items()
}
# The permissions boundary of every role a stage creates, named per bootstrap (`${Qualifier}`): the
# stage's bootstrap creates it, and CloudFormation may create no role without it.
PERMISSIONS_BOUNDARY: str = _CONTEXT["hangar:permissionsBoundary"]
# The stage deployed to LocalStack; every other stage is deployed to AWS.
LOCAL_STAGE = "local"
# LocalStack's account: the local stage's, and the one cdklocal bootstraps and deploys into.
LOCALSTACK_ACCOUNT = "000000000000"
# What happens to a stage's stateful resources when CloudFormation removes them: CloudFormation's
# Delete, or its RetainExceptOnCreate (the CDK's RETAIN_ON_UPDATE_OR_DELETE). Never plain Retain:
# what a failed first deploy created would survive its rollback, and the fixed names (log groups,
# repository, database) would make every retry fail "already exists"; RetainExceptOnCreate
# deletes it then instead.
DESTROY = "destroy"
RETAIN_EXCEPT_ON_CREATE = "retain-except-on-create"


class StageConfigError(ValueError):
    """Bad stage selection, image tag or certificate; the message says what to pass instead."""


@dataclass(frozen=True)
class Stage:
    name: str
    region: str
    # Fixed for LocalStack (its default account); None lets real stages target the CLI's account.
    account: str | None
    # 0: tasks in public subnets (see constructs/network.py); prod has one per AZ so an AZ outage
    # does not cut the other AZ's tasks off from ECR, Secrets Manager and SQS.
    nat_gateways: int
    web_cpu: int
    web_memory_mib: int
    # Web tasks autoscale between these (hangar.core.capacity: on requests per task and CPU).
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
    log_retention_days: int
    # DESTROY or RETAIN_EXCEPT_ON_CREATE for every stateful resource; the database alone is
    # snapshotted on delete when the stage is retained (other types do not support SNAPSHOT).
    removal: str
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
    # hangar_infra.config.stage_config() fills in.
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
        if self.removal not in (DESTROY, RETAIN_EXCEPT_ON_CREATE):
            raise StageConfigError(
                f"stage {self.name!r}: removal is {DESTROY} or {RETAIN_EXCEPT_ON_CREATE} "
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


# The disposable cloud stage; `local` is the same small stage adapted to LocalStack.
_DEV = Stage(
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
    log_retention_days=7,
    removal=DESTROY,
    deletion_protection=False,
    auto_delete_objects=True,
    versioned_bucket=False,
    queue_max_receive_count=5,
    queue_visibility_timeout_seconds=60,
    health_check_grace_seconds=60,
    domain="dev.{service}.example.com",
)

# Every stage, in order (the order `hangar synth` and the CLI's help list them in).
STAGES: dict[str, Stage] = {
    LOCAL_STAGE: replace(
        _DEV,
        name=LOCAL_STAGE,
        account=LOCALSTACK_ACCOUNT,
        log_retention_days=1,
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
    "staging": Stage(
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
        log_retention_days=30,
        removal=RETAIN_EXCEPT_ON_CREATE,
        deletion_protection=False,
        auto_delete_objects=True,
        versioned_bucket=True,
        queue_max_receive_count=5,
        queue_visibility_timeout_seconds=120,
        health_check_grace_seconds=90,
        domain="staging.{service}.example.com",
    ),
    "prod": Stage(
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
        log_retention_days=180,
        removal=RETAIN_EXCEPT_ON_CREATE,
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
# The stages deployed to AWS, each with a bootstrap of its own there.
AWS_STAGES = tuple(name for name in STAGES if name != LOCAL_STAGE)
# The stages that may not be deployed without a certificate.
HTTPS_REQUIRED_STAGES = tuple(name for name, stage in STAGES.items() if stage.requires_https)


def check_stage(stage: str) -> str:
    """`stage` when it is one of STAGES; otherwise one line that lists them."""
    if stage not in STAGES:
        raise HangarError(
            f"unknown stage {stage!r}.", hint=f"pass --stage with one of: {', '.join(STAGES)}"
        )
    return stage
