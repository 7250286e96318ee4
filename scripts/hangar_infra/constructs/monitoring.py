"""Alarms on what hurts users first (5xx, unhealthy targets, dead letters, CPU) and a dashboard.

Only what the app declared is watched: a dead-letter alarm and graph for each declared queue, a CPU
alarm and graph for each worker; an app without queues has neither."""

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from hangar_infra.config import StageConfig
from hangar_infra.constructs.task_queue import TaskQueue
from hangar_infra.naming import ResourceNames

_FIVE_MINUTES = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        names: ResourceNames,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        services: dict[str, ecs.FargateService],
        queues: tuple[TaskQueue, ...],
    ) -> None:
        """`services`: the web service as "Web", then the workers, by the name their alarm and
        graph take."""
        super().__init__(scope, id)
        # CloudWatch can only publish to an encrypted topic whose key policy lets it use the key,
        # which rules out the AWS-managed SNS key.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        self._let_alarms_publish()
        if config.alarm_subscription:
            self.topic.add_subscription(
                subscriptions.UrlSubscription(config.alarm_subscription)
                if config.alarm_subscription.startswith("https://")
                else subscriptions.EmailSubscription(config.alarm_subscription)
            )
        action = cloudwatch_actions.SnsAction(self.topic)

        # Alarmed on below and graphed on the dashboard: one definition keeps the two in step.
        load_balancer_5xx = load_balancer.metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, period=_FIVE_MINUTES
        )
        # The web service's own answers: a 5xx of another target group (a second service behind
        # the same load balancer) must not roll this one's deployment back.
        target_5xx = _target_group_metric(
            load_balancer,
            target_group,
            "HTTPCode_Target_5XX_Count",
            period=_FIVE_MINUTES,
            statistic="Sum",
        )
        web_5xx_alarm = f"{names.prefix}-web-5xx"
        unhealthy_hosts_alarm = f"{names.prefix}-web-unhealthy-hosts"
        # A web deployment during which the new tasks answer 5xx or fail their health check rolls
        # back (the circuit breaker only catches tasks that never become healthy). Named, because
        # the service names them: a Ref would be a cycle (the alarms' dimensions do not name it).
        deployment_guards = [
            target_5xx.create_alarm(
                self,
                "Target5xx",
                alarm_name=web_5xx_alarm,
                alarm_description="The web service answered 5xx",
                threshold=5,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            _target_group_metric(
                load_balancer,
                target_group,
                "UnHealthyHostCount",
                period=Duration.minutes(1),
                statistic="Maximum",
            ).create_alarm(
                self,
                "UnhealthyHosts",
                alarm_name=unhealthy_hosts_alarm,
                alarm_description=f"A web task fails the {names.contract.health_path} check",
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=3,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        alarms = [
            load_balancer_5xx.create_alarm(
                self,
                "LoadBalancer5xx",
                alarm_description="The load balancer answered 5xx (no healthy target or timeout)",
                threshold=5,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            *deployment_guards,
            *(
                queue.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ).create_alarm(
                    self,
                    f"{queue.declared.id}DeadLettersNotEmpty",
                    alarm_description=f"A message of the {queue.declared.name} queue failed every "
                    "retry and sits in its dead-letter queue",
                    threshold=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    evaluation_periods=1,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                for queue in queues
            ),
        ]
        web = services["Web"]
        for name, service in services.items():
            alarms.append(
                service.metric_cpu_utilization(period=_FIVE_MINUTES).create_alarm(
                    self,
                    f"{name}CpuHigh",
                    alarm_description=f"The {name} service runs above 80% CPU",
                    threshold=80,
                    evaluation_periods=3,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        for alarm in alarms:
            alarm.add_alarm_action(action)
        # The worker has no such signal of its own: its CPU or a dead letter says nothing about
        # one release; its deployment circuit breaker still rolls back tasks that cannot start.
        web.enable_deployment_alarms(
            [web_5xx_alarm, unhealthy_hosts_alarm], behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM
        )
        # ECS reads the alarms from the service's first deployment on: they exist before it.
        web.node.add_dependency(*deployment_guards)

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=names.prefix)
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Requests and errors",
                left=[load_balancer.metrics.request_count(period=_FIVE_MINUTES)],
                right=[load_balancer_5xx, target_5xx],
            ),
            cloudwatch.GraphWidget(
                title="Response time (p95)",
                left=[load_balancer.metrics.target_response_time(statistic="p95")],
            ),
            cloudwatch.GraphWidget(
                title="CPU",
                left=[service.metric_cpu_utilization() for service in services.values()],
            ),
            *(
                [
                    cloudwatch.GraphWidget(
                        title="Queues (left) and their dead letters (right)",
                        left=[
                            q.queue.metric_approximate_number_of_messages_visible(
                                label=q.declared.name
                            )
                            for q in queues
                        ],
                        right=[
                            q.dead_letter_queue.metric_approximate_number_of_messages_visible(
                                label=f"{q.declared.name} dead letters"
                            )
                            for q in queues
                        ],
                    )
                ]
                if queues
                else []
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24),
        )

    def _let_alarms_publish(self) -> None:
        """The topic policy `enforce_ssl` writes holds only its Deny, and a topic policy replaces
        SNS's default one: without this Allow, CloudWatch (a service principal, which only a
        resource policy lets in) could not publish a single alarm. Scoped as AWS documents it
        against the confused deputy: alarms of this account and region only."""
        stack = Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )


def _target_group_metric(
    load_balancer: elbv2.ApplicationLoadBalancer,
    target_group: elbv2.ApplicationTargetGroup,
    name: str,
    *,
    period: Duration,
    statistic: str,
) -> cloudwatch.Metric:
    """One metric of the web target group. `target_group.metrics` derives the LoadBalancer
    dimension by splitting the listener ARN; the stack's own attributes give the same values
    without parsing an ARN (which LocalStack, deploying ELBv2 as a placeholder, cannot provide)."""
    return cloudwatch.Metric(
        namespace="AWS/ApplicationELB",
        metric_name=name,
        dimensions_map={
            "LoadBalancer": load_balancer.load_balancer_full_name,
            "TargetGroup": target_group.target_group_full_name,
        },
        period=period,
        statistic=statistic,
    )
