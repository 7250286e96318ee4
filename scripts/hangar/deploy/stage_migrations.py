"""Step 3 of `hangar deploy`: the migrations, as a one-off ECS task with the *new* image, before it
serves traffic (on a stage's first deploy right after the service stack created the database).
"""

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import WaiterError

from hangar.core import stage_interface
from hangar.core.console import info
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.deploy.stage_target import Target, require_emulated, require_output

MIGRATION_TIMEOUT_SECONDS = 15 * 60
MIGRATION_OUTPUTS = (
    stage_interface.CLUSTER_NAME,
    stage_interface.MIGRATION_TASK_DEFINITION_ARN,
    stage_interface.MIGRATION_SUBNET_IDS,
    stage_interface.MIGRATION_SECURITY_GROUP_ID,
    stage_interface.MIGRATION_ASSIGN_PUBLIC_IP,
)
PUBLIC_IP_SETTINGS = ("ENABLED", "DISABLED")

# What RegisterTaskDefinition accepts back from DescribeTaskDefinition (the rest is read-only).
REGISTRABLE_TASK_FIELDS = frozenset(
    {
        "family",
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "volumes",
        "placementConstraints",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "runtimePlatform",
        "ephemeralStorage",
    }
)


def migration_task_definition(described: Mapping[str, Any], image: str) -> dict[str, Any]:
    """A registrable copy of the migration task definition that runs `image` instead.

    The deployed revision still names the previous release's image; the migrations must come from
    the code about to serve traffic, before it does.
    """
    containers = [dict(container) for container in described["containerDefinitions"]]
    if len(containers) != 1:
        raise HangarError(
            f"the migration task definition has {len(containers)} containers; expected exactly one"
        )
    containers[0]["image"] = image
    definition = {k: v for k, v in described.items() if k in REGISTRABLE_TASK_FIELDS}
    return {**definition, "containerDefinitions": containers}


def task_outcome(task: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a STOPPED task succeeded, and a one-line account of it."""
    containers = task.get("containers", [])
    failures = [
        f"{c.get('name')} exited {c.get('exitCode', '(no code)')} {c.get('reason', '')}".strip()
        for c in containers
        if c.get("exitCode") != 0
    ]
    if not containers or failures:
        account = "; ".join(failures) or "no container ran"
        return False, f"{account} (stopped: {task.get('stoppedReason', 'no reason given')})"
    return True, "every container exited 0"


def migration_network(service_outputs: Mapping[str, str]) -> dict[str, Any]:
    """The migration task's network, as the stack placed the services: dev runs its tasks in public
    subnets with a public IP (no NAT), staging and prod in private subnets behind NAT."""
    assign_public_ip = service_outputs[stage_interface.MIGRATION_ASSIGN_PUBLIC_IP]
    if assign_public_ip not in PUBLIC_IP_SETTINGS:
        raise HangarError(
            f"the stack's MigrationAssignPublicIp output is {assign_public_ip!r}, "
            f"not one of {', '.join(PUBLIC_IP_SETTINGS)}",
            hint="synthesize the stage (`make synth`) and check the stack's outputs",
        )
    return {
        "awsvpcConfiguration": {
            "subnets": service_outputs[stage_interface.MIGRATION_SUBNET_IDS].split(","),
            "securityGroups": [service_outputs[stage_interface.MIGRATION_SECURITY_GROUP_ID]],
            "assignPublicIp": assign_public_ip,
        }
    }


def run_migrations(
    target: Target,
    service_outputs: Mapping[str, str],
    image: str,
    *,
    timeout_seconds: int = MIGRATION_TIMEOUT_SECONDS,
    poll_seconds: int = 10,
) -> None:
    require_output(target, service_outputs, *MIGRATION_OUTPUTS)
    ecs = target.client("ecs")
    cluster = service_outputs[stage_interface.CLUSTER_NAME]
    require_emulated(target, lambda: ecs.describe_clusters(clusters=[cluster]), "ECS")
    network = migration_network(service_outputs)
    described = ecs.describe_task_definition(
        taskDefinition=service_outputs[stage_interface.MIGRATION_TASK_DEFINITION_ARN]
    )["taskDefinition"]
    revision = ecs.register_task_definition(**migration_task_definition(described, image))
    revision_arn = revision["taskDefinition"]["taskDefinitionArn"]
    try:
        started = ecs.run_task(
            cluster=cluster,
            taskDefinition=revision_arn,
            launchType="FARGATE",
            count=1,
            networkConfiguration=network,
            startedBy=f"{contract().service_name}-deploy",
        )
        if started.get("failures") or not started.get("tasks"):
            raise HangarError(f"ECS did not start the migration task: {started.get('failures')}")
        task_arn = started["tasks"][0]["taskArn"]
        info(f"migration task {task_arn} started; waiting for it to stop")
        wait_for_migration(ecs, cluster, task_arn, timeout_seconds, poll_seconds)
        task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        succeeded, account = task_outcome(task)
        if not succeeded:
            raise HangarError(
                f"the migration task failed: {account}",
                hint="read its log stream (prefix `migrate`) in the app log group; "
                "the service was not updated",
            )
        info(f"migrations done: {account}")
    finally:
        # This revision only carried this run; the stack's own revision stays the active one.
        ecs.deregister_task_definition(taskDefinition=revision_arn)


def wait_for_migration(
    ecs: Any, cluster: str, task_arn: str, timeout_seconds: int, poll_seconds: int
) -> None:
    """Wait for the task to stop; one running at the deadline is stopped, never left behind."""
    try:
        ecs.get_waiter("tasks_stopped").wait(
            cluster=cluster,
            tasks=[task_arn],
            WaiterConfig={
                "Delay": poll_seconds,
                "MaxAttempts": max(1, timeout_seconds // max(1, poll_seconds)),
            },
        )
    except WaiterError as error:
        if "Max attempts exceeded" not in str(error):
            raise HangarError(f"cannot follow the migration task {task_arn}: {error}") from error
        minutes = timeout_seconds / 60
        ecs.stop_task(
            cluster=cluster,
            task=task_arn,
            reason=f"hangar deploy: migrations did not finish within {minutes:.0f} minutes",
        )
        raise HangarError(
            f"the migration task {task_arn} did not finish within {minutes:.0f} minutes; "
            "it has been stopped and the service was not updated",
            hint="read its log stream (prefix `migrate`) in the app log group: a migration "
            "waiting on a lock, or a task that cannot reach the database or pull its image",
        ) from error
