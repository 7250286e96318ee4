"""Fargate services (web behind the ALB, worker scaled on queue depth) and the migration task."""

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hangar_infra.config import StageConfig
from hangar_infra.constructs.app_container import WEB_PORT, AppRuntime
from hangar_infra.constructs.load_balancer import PublicLoadBalancer
from hangar_infra.constructs.network import Network
from hangar_infra.image import runtime_platform

# The web container runs the image's own CMD (gunicorn, tuned in the Dockerfile's runtime stage).
WORKER_COMMAND = ["python", "manage.py", "worker"]
MIGRATE_COMMAND = ["python", "manage.py", "migrate", "--noinput"]
HEALTH_CHECK_PATH = "/healthz"


def _app_task_definition(
    scope: Construct,
    *,
    runtime: AppRuntime,
    task_role: iam.IRole,
    cpu: int,
    memory_mib: int,
    command: list[str] | None,
    log_prefix: str,
    port: int | None = None,
) -> ecs.FargateTaskDefinition:
    """A task definition (`scope`/TaskDefinition) running the one app container."""
    task_definition = ecs.FargateTaskDefinition(
        scope,
        "TaskDefinition",
        cpu=cpu,
        memory_limit_mib=memory_mib,
        task_role=task_role,
        runtime_platform=runtime_platform(),
    )
    runtime.add_container(task_definition, command=command, log_prefix=log_prefix, port=port)
    return task_definition


@dataclass(frozen=True)
class ServicePlacement:
    """Where every app service runs and as whom: the same for the web and the worker."""

    cluster: ecs.ICluster
    network: Network
    runtime: AppRuntime
    task_role: iam.IRole


class AppService(Construct):
    """A Fargate service running the app container, placed and deployed like every other one.

    WebService and WorkerService add only what differs: the load balancer or the scaling.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        placement: ServicePlacement,
        security_group: ec2.ISecurityGroup,
        cpu: int,
        memory_mib: int,
        desired_count: int,
        command: list[str] | None,
        log_prefix: str,
        port: int | None = None,
        health_check_grace_period: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.task_definition = _app_task_definition(
            self,
            runtime=placement.runtime,
            task_role=placement.task_role,
            cpu=cpu,
            memory_mib=memory_mib,
            command=command,
            log_prefix=log_prefix,
            port=port,
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=placement.cluster,
            task_definition=self.task_definition,
            desired_count=desired_count,
            security_groups=[security_group],
            vpc_subnets=placement.network.task_subnets,
            assign_public_ip=placement.network.assign_public_ip,
            health_check_grace_period=health_check_grace_period,
            # A deploy that cannot get healthy tasks rolls back, not hangs; capacity never dips.
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
        )


class WebService(AppService):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        placement: ServicePlacement,
        security_group: ec2.ISecurityGroup,
        load_balancer: PublicLoadBalancer,
    ) -> None:
        super().__init__(
            scope,
            id,
            placement=placement,
            security_group=security_group,
            cpu=config.web_cpu,
            memory_mib=config.web_memory_mib,
            desired_count=config.web_desired_count,
            command=None,
            log_prefix="web",
            port=WEB_PORT,
            # Time for gunicorn to boot before failed health checks count against a new task.
            health_check_grace_period=Duration.seconds(config.health_check_grace_seconds),
        )
        # Created where `listener.add_targets` on the port-80 listener always put it, and only
        # attached to the listener that serves the app (443 with a certificate, else 80): the
        # target group keeps its logical id when a stage turns HTTPS on or off, so that change
        # neither replaces it nor redeploys the service.
        self.target_group = elbv2.ApplicationTargetGroup(
            load_balancer.http_listener,
            "WebGroup",
            vpc=load_balancer.alb.vpc,
            port=WEB_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                # /healthz answers before host validation, so the ALB's probe by private IP passes.
                path=HEALTH_CHECK_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        load_balancer.listener.add_target_groups("Web", target_groups=[self.target_group])


class WorkerService(AppService):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        placement: ServicePlacement,
        security_group: ec2.ISecurityGroup,
        queue: sqs.IQueue,
    ) -> None:
        super().__init__(
            scope,
            id,
            placement=placement,
            security_group=security_group,
            cpu=config.worker_cpu,
            memory_mib=config.worker_memory_mib,
            desired_count=config.worker_min_count,
            command=WORKER_COMMAND,
            log_prefix="worker",
        )
        scaling = self.service.auto_scale_task_count(
            min_capacity=config.worker_min_count, max_capacity=config.worker_max_count
        )
        scaling.scale_on_metric(
            "QueueDepth",
            metric=queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            scaling_steps=[
                autoscaling.ScalingInterval(upper=0, change=-1),
                autoscaling.ScalingInterval(lower=1, change=+1),
                autoscaling.ScalingInterval(lower=100, change=+3),
            ],
            adjustment_type=autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.minutes(2),
        )


class MigrationTask(Construct):
    """A task definition no service runs: deploys run it once before updating the services."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        runtime: AppRuntime,
        task_role: iam.IRole,
        vpc: ec2.IVpc,
    ) -> None:
        super().__init__(scope, id)
        self.task_definition = _app_task_definition(
            self,
            runtime=runtime,
            task_role=task_role,
            cpu=config.web_cpu,
            memory_mib=config.web_memory_mib,
            command=MIGRATE_COMMAND,
            log_prefix="migrate",
        )
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="One-off migration task"
        )
