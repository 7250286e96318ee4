"""The role the app's code runs as (web, worker and migration tasks alike): this stage's declared
buckets and queues (a dead-letter queue when the app is given its URL), and what ECS Exec needs —
nothing else."""

from aws_cdk import CfnElement, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from hangar_infra.config import StageConfig
from hangar_infra.constructs.nag import acknowledge
from hangar_infra.constructs.storage import Storage
from hangar_infra.constructs.task_queue import TaskQueues


def app_task_role(
    stack: Stack, *, config: StageConfig, storage: Storage, queues: TaskQueues
) -> iam.Role:
    """Created in the stack's own scope, where deployed stacks have it (logical id AppTaskRole)."""
    task_role = iam.Role(
        stack,
        "AppTaskRole",
        assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        description="What the app's code may touch: this stage's declared buckets and queues only",
    )
    for bucket in storage.buckets.values():
        bucket.grant_read_write(task_role)
        _acknowledge_bucket_grant(task_role, stack, bucket)
    for declared in queues.queues:
        reachable = [declared.queue]
        if declared.declared.dlq_env:
            reachable.append(declared.dead_letter_queue)
        for queue in reachable:
            queue.grant_send_messages(task_role)
            queue.grant_consume_messages(task_role)
    _acknowledge_exec_grant(task_role, config)
    return task_role


def _acknowledge_bucket_grant(task_role: iam.Role, stack: Stack, bucket: s3.Bucket) -> None:
    """`grant_read_write` is scoped to one declared bucket but uses wildcard actions and keys."""
    resource = bucket.node.default_child
    assert isinstance(resource, CfnElement)
    for finding in (
        "Action::s3:Abort*",
        "Action::s3:DeleteObject*",
        "Action::s3:GetBucket*",
        "Action::s3:GetObject*",
        "Action::s3:List*",
        f"Resource::<{stack.get_logical_id(resource)}.Arn>/*",
    ):
        acknowledge(
            task_role,
            f"AwsSolutions-IAM5[{finding}]",
            "The app stores and reads arbitrary keys, but only in this stage's buckets it "
            "declared (grant_read_write); no other bucket or service is reachable with them.",
        )


def _acknowledge_exec_grant(task_role: iam.Role, config: StageConfig) -> None:
    """What ECS Exec adds to the task role (enable_execute_command with an audit log group)."""
    account = config.account or "<AWS::AccountId>"
    acknowledge(
        task_role,
        "AwsSolutions-IAM5[Resource::*]",
        "ECS Exec's ssmmessages:*Channel actions and logs:DescribeLogGroups have no resource-level "
        "permissions; everything else the role may do names this stack's resources.",
    )
    acknowledge(
        task_role,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{config.region}:{account}:"
        "log-group:<ExecAuditLogs86F42905>:*]",
        "The ECS Exec agent writes one log stream per session into the stack's audit log group.",
    )
