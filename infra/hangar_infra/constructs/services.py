"""Fargate services (web behind the ALB, worker scaled on queue depth) and the migration task."""

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
from hangar_infra.constructs.network import Network

# The web container runs the image's own CMD (gunicorn, tuned in the Dockerfile's runtime stage).
WORKER_COMMAND = ["python", "manage.py", "worker"]
MIGRATE_COMMAND = ["python", "manage.py", "migrate", "--noinput"]
HEALTH_CHECK_PATH = "/healthz"


def _deployment_safety() -> dict[str, object]:
    """A deploy that cannot get healthy tasks rolls back, not hangs; capacity never dips."""
    return {
        "circuit_breaker": ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        "min_healthy_percent": 100,
        "max_healthy_percent": 200,
    }


class WebService(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        cluster: ecs.ICluster,
        runtime: AppRuntime,
        task_role: iam.IRole,
        listener: elbv2.ApplicationListener,
        security_group: ec2.ISecurityGroup,
        network: Network,
    ) -> None:
        super().__init__(scope, id)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=config.web_cpu,
            memory_limit_mib=config.web_memory_mib,
            task_role=task_role,
        )
        runtime.add_container(self.task_definition, command=None, log_prefix="web", port=WEB_PORT)
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            desired_count=config.web_desired_count,
            security_groups=[security_group],
            vpc_subnets=network.task_subnets,
            assign_public_ip=network.assign_public_ip,
            # Time for gunicorn to boot before failed health checks count against a new task.
            health_check_grace_period=Duration.seconds(config.health_check_grace_seconds),
            **_deployment_safety(),  # type: ignore[arg-type]
        )
        self.target_group = listener.add_targets(
            "Web",
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


class WorkerService(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        cluster: ecs.ICluster,
        runtime: AppRuntime,
        task_role: iam.IRole,
        queue: sqs.IQueue,
        security_group: ec2.ISecurityGroup,
        network: Network,
    ) -> None:
        super().__init__(scope, id)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=config.worker_cpu,
            memory_limit_mib=config.worker_memory_mib,
            task_role=task_role,
        )
        runtime.add_container(self.task_definition, command=WORKER_COMMAND, log_prefix="worker")
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            desired_count=config.worker_min_count,
            security_groups=[security_group],
            vpc_subnets=network.task_subnets,
            assign_public_ip=network.assign_public_ip,
            **_deployment_safety(),  # type: ignore[arg-type]
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
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=config.web_cpu,
            memory_limit_mib=config.web_memory_mib,
            task_role=task_role,
        )
        runtime.add_container(self.task_definition, command=MIGRATE_COMMAND, log_prefix="migrate")
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="One-off migration task"
        )
