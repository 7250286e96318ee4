"""Everything that runs the app's image: the cluster (with ECS Exec's audit), the web service, a
worker service for each declared queue with a worker command, and the migration task; each may
reach the database, and none starts before the database's connection details are in its secret."""

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from hangar_infra.config import StageConfig
from hangar_infra.constructs.app_container import AppRuntime
from hangar_infra.constructs.database import Database
from hangar_infra.constructs.exec_audit import ExecAudit
from hangar_infra.constructs.load_balancer import PublicLoadBalancer
from hangar_infra.constructs.nag import acknowledge
from hangar_infra.constructs.network import Network
from hangar_infra.constructs.services import (
    MigrationTask,
    ServicePlacement,
    WebService,
    WorkerService,
)
from hangar_infra.constructs.task_queue import TaskQueue
from hangar_infra.naming import ResourceNames


class AppTasks:
    """Built in the stack's own scope, not as a construct of its own: the cluster, the security
    groups and the services keep the logical ids of stacks deployed before this class existed."""

    def __init__(
        self,
        stack: Stack,
        *,
        config: StageConfig,
        names: ResourceNames,
        network: Network,
        runtime: AppRuntime,
        task_role: iam.IRole,
        load_balancer: PublicLoadBalancer,
        queues: tuple[TaskQueue, ...],
        database: Database,
    ) -> None:
        contract = names.contract
        vpc = network.vpc
        self.cluster = ecs.Cluster(
            stack,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            execute_command_configuration=ExecAudit(
                stack, "ExecAudit", config=config, names=names
            ).configuration,
        )
        placement = ServicePlacement(
            cluster=self.cluster, network=network, runtime=runtime, task_role=task_role
        )
        web_security_group = ec2.SecurityGroup(
            stack, "WebSecurityGroup", vpc=vpc, description="Web tasks (ALB traffic only)"
        )
        self.web = WebService(
            stack,
            "Web",
            config=config,
            placement=placement,
            security_group=web_security_group,
            load_balancer=load_balancer,
            port=contract.container_port,
            health_path=contract.health_path,
            capacity_path=contract.capacity_path,
        )
        # One per queue that names a worker command, with its queue: (TaskQueue, WorkerService).
        self.workers: list[tuple[TaskQueue, WorkerService]] = []
        security_groups = {"web": web_security_group}
        for task_queue in queues:
            declared = task_queue.declared
            if declared.worker_command is None:
                continue
            name = f"{declared.name} worker"
            security_groups[name] = ec2.SecurityGroup(
                stack,
                f"{declared.id}WorkerSecurityGroup",
                vpc=vpc,
                description=f"Worker tasks of the {declared.name} queue (no inbound traffic)",
            )
            worker = WorkerService(
                stack,
                f"{declared.id}Worker",
                config=config,
                placement=placement,
                security_group=security_groups[name],
                queue=task_queue.queue,
                command=list(declared.worker_command),
            )
            self.workers.append((task_queue, worker))
        self.migration = MigrationTask(
            stack, "Migration", config=config, runtime=runtime, task_role=task_role, vpc=vpc
        )
        security_groups["migration"] = self.migration.security_group
        for name, security_group in security_groups.items():
            database.instance.connections.allow_default_port_from(
                security_group, f"PostgreSQL from the {name} tasks"
            )
        services = [self.web, *(worker for _, worker in self.workers)]
        for service in services:
            service.service.node.add_dependency(database.connection_details_ready)
        for task_definition in (
            *(service.task_definition for service in services),
            self.migration.task_definition,
        ):
            acknowledge_app_task_definition(task_definition)


def acknowledge_app_task_definition(task_definition: ecs.TaskDefinition) -> None:
    """cdk-nag's findings on every task definition that runs the app's container."""
    acknowledge(
        task_definition,
        "AwsSolutions-ECS2",
        "Only non-secret configuration (names, URLs, hosts) is plain environment; "
        "SECRET_KEY, database credentials and declared secrets come from Secrets Manager.",
    )
    acknowledge(
        task_definition,
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken (the execution role's image pull) has no resource-level "
        "permissions; every other statement names this stack's repository, logs, secrets.",
    )
