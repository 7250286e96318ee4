"""Fargate services (web behind the ALB scaled on CPU, and on requests per task when the contract
names the page its capacity was measured on; a worker scaled on its queue's backlog per task) and
the migration task. Both services accept ECS Exec (`make remote-shell`).

The web container listens on the contract's container port and is checked on its health path; a
worker runs its queue's worker command (hangar_infra.constructs.app_tasks makes one per declared
queue that has one)."""

from dataclasses import dataclass

from aws_cdk import Duration, Fn
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hangar.core import capacity
from hangar.core.stage_interface import LOG_STREAM_PREFIXES
from hangar_infra.config import StageConfig
from hangar_infra.constructs.app_container import AppRuntime
from hangar_infra.constructs.load_balancer import PublicLoadBalancer
from hangar_infra.constructs.network import Network

# The web container runs the image's own CMD: gunicorn, sized by the environment WebService sets.
MIGRATE_COMMAND = ["python", "manage.py", "migrate", "--noinput"]


def app_task_definition(
    scope: Construct,
    *,
    runtime: AppRuntime,
    task_role: iam.IRole,
    cpu: int,
    memory_mib: int,
    command: list[str] | None,
    log_prefix: str,
    port: int | None = None,
    environment: dict[str, str] | None = None,
    stop_timeout: Duration | None = None,
) -> ecs.FargateTaskDefinition:
    """A task definition (`scope`/TaskDefinition) running the one app container."""
    task_definition = ecs.FargateTaskDefinition(
        scope,
        "TaskDefinition",
        cpu=cpu,
        memory_limit_mib=memory_mib,
        task_role=task_role,
        runtime_platform=runtime.platform,
    )
    runtime.add_container(
        task_definition,
        command=command,
        log_prefix=log_prefix,
        port=port,
        environment=environment,
        stop_timeout=stop_timeout,
    )
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
        desired_count: int | None,
        command: list[str] | None,
        log_prefix: str,
        stop_timeout: Duration,
        port: int | None = None,
        environment: dict[str, str] | None = None,
        health_check_grace_period: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.task_definition = app_task_definition(
            self,
            runtime=placement.runtime,
            task_role=placement.task_role,
            cpu=cpu,
            memory_mib=memory_mib,
            command=command,
            log_prefix=log_prefix,
            port=port,
            environment=environment,
            stop_timeout=stop_timeout,
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
            # `make remote-shell`: a Django shell in a running task, audited by the cluster.
            enable_execute_command=True,
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
        port: int,
        health_path: str,
        capacity_path: str | None,
    ) -> None:
        """`port`: where the container listens; `health_path`: the liveness path the load balancer
        probes (it answers before host validation, so a probe by private IP passes);
        `capacity_path`: the page whose measured capacity sets the requests-per-task target."""
        super().__init__(
            scope,
            id,
            placement=placement,
            security_group=security_group,
            cpu=config.web_cpu,
            memory_mib=config.web_memory_mib,
            # Autoscaling owns the count: a deploy must not reset a scaled-out service to its
            # minimum (CloudFormation starts it at one task, the scalable target lifts it).
            desired_count=None,
            command=None,
            log_prefix=LOG_STREAM_PREFIXES["web"],
            port=port,
            environment={
                **capacity.gunicorn_size(config.web_cpu, config.web_memory_mib).environment(),
                **capacity.shutdown_environment(),
            },
            stop_timeout=Duration.seconds(capacity.STOP_TIMEOUT_SECONDS),
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
            port=port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            deregistration_delay=Duration.seconds(capacity.DEREGISTRATION_DELAY_SECONDS),
            health_check=elbv2.HealthCheck(
                path=health_path,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        load_balancer.listener.add_target_groups("Web", target_groups=[self.target_group])
        self.load_balancer_full_name = load_balancer.alb.load_balancer_full_name
        scaling = self.service.auto_scale_task_count(
            min_capacity=config.web_min_count, max_capacity=config.web_max_count
        )
        if capacity_path is not None:
            self._scale_on_requests(
                scaling,
                capacity.measured_capacity(config.web_cpu, config.web_memory_mib, capacity_path),
            )
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=capacity.CPU_TARGET_PERCENT,
            scale_out_cooldown=Duration.minutes(1),
            scale_in_cooldown=Duration.minutes(5),
        )

    def _scale_on_requests(
        self, scaling: ecs.ScalableTaskCount, measured: capacity.MeasuredCapacity
    ) -> None:
        """Target tracking on what `make bench` measured one task to serve."""
        scaling.scale_on_request_count(
            "RequestsPerTask",
            requests_per_target=measured.requests_per_target_per_minute,
            target_group=self.target_group,
            scale_out_cooldown=Duration.minutes(1),
            scale_in_cooldown=Duration.minutes(5),
        )
        # CDK derives the metric's label with Fn::Select over the listener's ARN, which
        # LocalStack's placeholder ARN breaks (docs/infra.md); the full-name attributes need no
        # parsing and name the same load balancer and target group on AWS.
        (policy,) = (
            child
            for child in scaling.node.find_all()
            if isinstance(child, autoscaling.CfnScalingPolicy)
            and child.node.path.endswith("/RequestsPerTask/Resource")
        )
        policy.add_property_override(
            "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.ResourceLabel",
            Fn.join(
                "/",
                [self.load_balancer_full_name, self.target_group.target_group_full_name],
            ),
        )


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
        command: list[str],
    ) -> None:
        super().__init__(
            scope,
            id,
            placement=placement,
            security_group=security_group,
            cpu=config.worker_cpu,
            memory_mib=config.worker_memory_mib,
            desired_count=None,  # autoscaling owns the count (see WebService)
            command=command,
            log_prefix=LOG_STREAM_PREFIXES["worker"],
            stop_timeout=Duration.seconds(capacity.WORKER_STOP_TIMEOUT_SECONDS),
        )
        scaling = self.service.auto_scale_task_count(
            min_capacity=config.worker_min_count, max_capacity=config.worker_max_count
        )
        # Backlog per running task, the measure AWS recommends for queue workers: a fixed queue
        # depth would mean one thing with 1 task and another with 10. Messages with no task
        # running count as a full task's backlog, so a stage at zero tasks starts one.
        target = capacity.WORKER_BACKLOG_PER_TASK
        backlog_per_task = cloudwatch.MathExpression(
            expression=(
                f"IF(FILL(tasks, 0) > 0, FILL(visible, 0) / FILL(tasks, 0), "
                f"IF(FILL(visible, 0) > 0, {target}, 0))"
            ),
            using_metrics={
                "visible": queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                "tasks": cloudwatch.Metric(
                    namespace="ECS/ContainerInsights",
                    metric_name="RunningTaskCount",
                    dimensions_map={
                        "ClusterName": placement.cluster.cluster_name,
                        "ServiceName": self.service.service_name,
                    },
                    period=Duration.minutes(1),
                    statistic="Average",
                ),
            },
            label="Queued messages per running worker task",
            period=Duration.minutes(1),
        )
        scaling.scale_on_metric(
            "BacklogPerTask",
            metric=backlog_per_task,
            # Empty: one task fewer. Up to the target: hold. Beyond: grow in proportion.
            scaling_steps=[
                autoscaling.ScalingInterval(upper=0, change=-1),
                autoscaling.ScalingInterval(lower=target, change=+1),
                autoscaling.ScalingInterval(lower=2 * target, change=+50),
                autoscaling.ScalingInterval(lower=4 * target, change=+100),
            ],
            adjustment_type=autoscaling.AdjustmentType.PERCENT_CHANGE_IN_CAPACITY,
            min_adjustment_magnitude=1,
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
        self.task_definition = app_task_definition(
            self,
            runtime=runtime,
            task_role=task_role,
            cpu=config.web_cpu,
            memory_mib=config.web_memory_mib,
            command=MIGRATE_COMMAND,
            log_prefix=LOG_STREAM_PREFIXES["migration"],
        )
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="One-off migration task"
        )
