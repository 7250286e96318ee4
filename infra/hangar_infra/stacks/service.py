"""What the app runs on: network, data stores, secrets, services, migration task, monitoring."""

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from hangar_infra.config import StageConfig
from hangar_infra.constructs.app_container import AppRuntime
from hangar_infra.constructs.database import Database
from hangar_infra.constructs.exec_audit import ExecAudit
from hangar_infra.constructs.load_balancer import PublicLoadBalancer
from hangar_infra.constructs.monitoring import Monitoring
from hangar_infra.constructs.nag import acknowledge
from hangar_infra.constructs.network import Network
from hangar_infra.constructs.services import (
    MigrationTask,
    ServicePlacement,
    WebService,
    WorkerService,
)
from hangar_infra.constructs.storage import DocumentStore
from hangar_infra.constructs.task_queue import TaskQueue
from hangar_infra.constructs.web_firewall import WebFirewall


class ServiceStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        repository: ecr.IRepository,
        image_tag: str,
        certificate_arn: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        network = Network(self, "Network", config=config)
        vpc = network.vpc
        documents = DocumentStore(self, "Storage", config=config)
        tasks = TaskQueue(self, "Queue", config=config)
        database = Database(self, "Database", config=config, vpc=vpc)
        secret_key = secretsmanager.Secret(
            self,
            "DjangoSecretKey",
            description=f"Django SECRET_KEY for hangar-{config.name}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        acknowledge(
            secret_key,
            "AwsSolutions-SMG4",
            "Rotating SECRET_KEY logs every user out and invalidates signed data; it is rotated "
            "deliberately with a redeploy, not on a schedule.",
        )

        entry = PublicLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            access_logs=documents.access_logs,
            certificate_arn=certificate_arn,
            domain=config.domain,
        )
        if config.web_firewall:
            WebFirewall(self, "WebFirewall", load_balancer=entry.alb)
        allowed_hosts = Fn.join(
            ",",
            [
                entry.alb.load_balancer_dns_name,
                *([config.domain] if config.domain else []),
                *config.extra_allowed_hosts,
            ],
        )
        parameters = {
            "documents-bucket": documents.bucket.bucket_name,
            "tasks-queue-url": tasks.queue.queue_url,
            "tasks-dlq-url": tasks.dead_letter_queue.queue_url,
            "allowed-hosts": allowed_hosts,
        }
        for name, value in parameters.items():
            ssm.StringParameter(
                self,
                f"Parameter-{name}",
                parameter_name=f"/hangar/{config.name}/{name}",
                string_value=value,
            )

        task_role = iam.Role(
            self,
            "AppTaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="What the app's code may touch: this stage's bucket and queues only",
        )
        documents.bucket.grant_read_write(task_role)
        tasks.queue.grant_send_messages(task_role)
        tasks.queue.grant_consume_messages(task_role)
        tasks.dead_letter_queue.grant_send_messages(task_role)
        tasks.dead_letter_queue.grant_consume_messages(task_role)
        _acknowledge_bucket_grant(task_role)
        _acknowledge_exec_grant(task_role, config)

        runtime = AppRuntime(
            image=ecs.ContainerImage.from_ecr_repository(repository, image_tag),
            environment={
                "DJANGO_ENV": "production",
                "DJANGO_ALLOWED_HOSTS": allowed_hosts,
                # Whether the ALB terminates TLS: HTTPS redirect, HSTS and Secure cookies follow.
                "DJANGO_HTTPS": "true" if entry.https else "false",
                "DOCUMENTS_BUCKET": documents.bucket.bucket_name,
                "TASKS_QUEUE_URL": tasks.queue.queue_url,
                "TASKS_DLQ_URL": tasks.dead_letter_queue.queue_url,
                "AWS_REGION": self.region,
            },
            secrets={
                "DJANGO_SECRET_KEY": ecs.Secret.from_secrets_manager(secret_key),
                "DB_HOST": ecs.Secret.from_secrets_manager(database.secret, "host"),
                "DB_PORT": ecs.Secret.from_secrets_manager(database.secret, "port"),
                "DB_NAME": ecs.Secret.from_secrets_manager(database.secret, "dbname"),
                "DB_USER": ecs.Secret.from_secrets_manager(database.secret, "username"),
                "DB_PASSWORD": ecs.Secret.from_secrets_manager(database.secret, "password"),
            },
            log_group=logs.LogGroup(
                self,
                "AppLogs",
                log_group_name=f"/hangar/{config.name}/app",
                retention=config.log_retention,
                removal_policy=config.removal_policy,
            ),
        )

        cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            execute_command_configuration=ExecAudit(self, "ExecAudit", config=config).configuration,
        )
        web_security_group = ec2.SecurityGroup(
            self, "WebSecurityGroup", vpc=vpc, description="Web tasks (ALB traffic only)"
        )
        worker_security_group = ec2.SecurityGroup(
            self, "WorkerSecurityGroup", vpc=vpc, description="Worker tasks (no inbound traffic)"
        )
        placement = ServicePlacement(
            cluster=cluster, network=network, runtime=runtime, task_role=task_role
        )
        web = WebService(
            self,
            "Web",
            config=config,
            placement=placement,
            security_group=web_security_group,
            load_balancer=entry,
        )
        worker = WorkerService(
            self,
            "Worker",
            config=config,
            placement=placement,
            security_group=worker_security_group,
            queue=tasks.queue,
        )
        migration = MigrationTask(
            self, "Migration", config=config, runtime=runtime, task_role=task_role, vpc=vpc
        )
        for name, security_group in (
            ("web", web_security_group),
            ("worker", worker_security_group),
            ("migration", migration.security_group),
        ):
            database.instance.connections.allow_default_port_from(
                security_group, f"PostgreSQL from the {name} tasks"
            )

        for service in (web.service, worker.service):
            service.node.add_dependency(database.connection_details_ready)

        for task_definition in (
            web.task_definition,
            worker.task_definition,
            migration.task_definition,
        ):
            acknowledge(
                task_definition,
                "AwsSolutions-ECS2",
                "Only non-secret configuration (names, URLs, hosts) is plain environment; "
                "SECRET_KEY and database credentials are injected from Secrets Manager.",
            )
            acknowledge(
                task_definition,
                "AwsSolutions-IAM5[Resource::*]",
                "ecr:GetAuthorizationToken (the execution role's image pull) has no resource-level "
                "permissions; every other statement names this stack's repository, logs, secrets.",
            )

        Monitoring(
            self,
            "Monitoring",
            config=config,
            load_balancer=entry.alb,
            target_group=web.target_group,
            web=web.service,
            worker=worker.service,
            queue=tasks.queue,
            dead_letter_queue=tasks.dead_letter_queue,
        )

        task_subnets = vpc.select_subnets(subnet_type=network.task_subnets.subnet_type)
        outputs = {
            "DocumentsBucketName": documents.bucket.bucket_name,
            "TasksQueueUrl": tasks.queue.queue_url,
            "TasksDlqUrl": tasks.dead_letter_queue.queue_url,
            "AllowedHosts": allowed_hosts,
            "LoadBalancerDnsName": entry.alb.load_balancer_dns_name,
            "ServiceUrl": entry.url,
            "DjangoSecretKeyArn": secret_key.secret_arn,
            "DatabaseSecretArn": database.secret.secret_arn,
            "DatabaseEndpoint": database.instance.db_instance_endpoint_address,
            "ClusterName": cluster.cluster_name,
            "WebServiceName": web.service.service_name,
            "WorkerServiceName": worker.service.service_name,
            "MigrationTaskDefinitionArn": migration.task_definition.task_definition_arn,
            "MigrationSubnetIds": Fn.join(",", task_subnets.subnet_ids),
            "MigrationAssignPublicIp": "ENABLED" if network.assign_public_ip else "DISABLED",
            "MigrationSecurityGroupId": migration.security_group.security_group_id,
            "AppLogGroupName": runtime.log_group.log_group_name,
            "Region": self.region,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)


def _acknowledge_bucket_grant(task_role: iam.Role) -> None:
    """`grant_read_write` is scoped to the documents bucket but uses wildcard actions and keys."""
    for finding in (
        "Action::s3:Abort*",
        "Action::s3:DeleteObject*",
        "Action::s3:GetBucket*",
        "Action::s3:GetObject*",
        "Action::s3:List*",
        "Resource::<StorageDocumentsCD3FCE94.Arn>/*",
    ):
        acknowledge(
            task_role,
            f"AwsSolutions-IAM5[{finding}]",
            "The app stores and reads arbitrary document keys, but only in this stage's documents "
            "bucket (grant_read_write); no other bucket or service is reachable with them.",
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
