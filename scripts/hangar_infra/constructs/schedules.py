"""The app's scheduled commands (`[tool.hangar.schedules.<name>]`): EventBridge Scheduler runs each
as a one-off Fargate task of the app's image on the stage's cluster, like the migration task.

Each schedule has its own task definition (the image, the shared environment and secrets, its
command) and its own role, which may start exactly that task definition on this cluster and hand
ECS exactly its two roles; nothing else.
"""

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from hangar.core.contract import Schedule
from hangar.core.stage_interface import schedule_log_prefix
from hangar_infra.config import StageConfig
from hangar_infra.constructs.app_tasks import acknowledge_app_task_definition
from hangar_infra.constructs.database import Database
from hangar_infra.constructs.services import ServicePlacement, app_task_definition
from hangar_infra.naming import ResourceNames


class ScheduledCommands(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        names: ResourceNames,
        placement: ServicePlacement,
        database: Database,
    ) -> None:
        super().__init__(scope, id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=placement.network.vpc,
            description="Scheduled command tasks (no inbound traffic)",
        )
        database.instance.connections.allow_default_port_from(
            self.security_group, "PostgreSQL from the scheduled command tasks"
        )
        self.task_definitions = {
            schedule.name: self._schedule(schedule, config, names, placement)
            for schedule in names.contract.schedules
        }

    def _schedule(
        self,
        schedule: Schedule,
        config: StageConfig,
        names: ResourceNames,
        placement: ServicePlacement,
    ) -> ecs.FargateTaskDefinition:
        scope = Construct(self, schedule.name)
        task_definition = app_task_definition(
            scope,
            runtime=placement.runtime,
            task_role=placement.task_role,
            cpu=config.worker_cpu,
            memory_mib=config.worker_memory_mib,
            command=list(schedule.command),
            log_prefix=schedule_log_prefix(schedule.name),
        )
        acknowledge_app_task_definition(task_definition)
        role = _scheduler_role(scope, placement.cluster, task_definition)
        network = placement.network
        subnets = network.vpc.select_subnets(subnet_type=network.task_subnets.subnet_type)
        scheduler.CfnSchedule(
            scope,
            "Schedule",
            name=f"{names.prefix}-{schedule.name}",
            description=f"{' '.join(schedule.command)} ([tool.hangar.schedules.{schedule.name}])",
            schedule_expression=schedule.cron,
            schedule_expression_timezone="UTC",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=placement.cluster.cluster_arn,
                role_arn=role.role_arn,
                ecs_parameters=scheduler.CfnSchedule.EcsParametersProperty(
                    task_definition_arn=task_definition.task_definition_arn,
                    launch_type="FARGATE",
                    task_count=1,
                    network_configuration=scheduler.CfnSchedule.NetworkConfigurationProperty(
                        awsvpc_configuration=scheduler.CfnSchedule.AwsVpcConfigurationProperty(
                            subnets=subnets.subnet_ids,
                            security_groups=[self.security_group.security_group_id],
                            assign_public_ip="ENABLED" if network.assign_public_ip else "DISABLED",
                        )
                    ),
                ),
                # A run that cannot start is retried for up to an hour, then dropped (the next
                # one comes at its own time).
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=3600, maximum_retry_attempts=3
                ),
            ),
        )
        return task_definition


def _scheduler_role(
    scope: Construct, cluster: ecs.ICluster, task_definition: ecs.FargateTaskDefinition
) -> iam.Role:
    """What EventBridge Scheduler runs one schedule as: RunTask of its task definition on this
    cluster, and PassRole of the task's own two roles to ECS tasks."""
    account = Stack.of(scope).account
    role = iam.Role(
        scope,
        "SchedulerRole",
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": account}},
        ),
        description="EventBridge Scheduler: start one scheduled command's task, nothing else",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["ecs:RunTask"],
            resources=[task_definition.task_definition_arn],
            conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[
                task_definition.task_role.role_arn,
                task_definition.obtain_execution_role().role_arn,
            ],
            conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        )
    )
    return role
