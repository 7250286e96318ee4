"""What the app runs on, as a composition: network, data stores, entry point, the app's settings and
role, the tasks that run its image, monitoring, and the outputs the tooling and the app read."""

from collections.abc import Mapping

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from hangar.core.contract import Contract, ContractError
from hangar_infra.config import StageConfig
from hangar_infra.constructs.app_container import AppRuntime
from hangar_infra.constructs.app_settings import AppSettings
from hangar_infra.constructs.app_tasks import AppTasks
from hangar_infra.constructs.database import Database
from hangar_infra.constructs.load_balancer import PublicLoadBalancer
from hangar_infra.constructs.monitoring import Monitoring
from hangar_infra.constructs.network import Network
from hangar_infra.constructs.schedules import ScheduledCommands
from hangar_infra.constructs.secrets import AppSecrets
from hangar_infra.constructs.services import ServicePlacement
from hangar_infra.constructs.storage import DocumentStore
from hangar_infra.constructs.task_queue import TaskQueue
from hangar_infra.constructs.task_role import app_task_role
from hangar_infra.constructs.web_firewall import WebFirewall
from hangar_infra.image import runtime_platform
from hangar_infra.naming import ResourceNames


class ServiceStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        names: ResourceNames,
        repository: ecr.IRepository,
        image_tag: str,
        certificate_arn: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        network = Network(self, "Network", config=config)
        documents = DocumentStore(self, "Storage", config=config)
        tasks = TaskQueue(self, "Queue", config=config)
        database = Database(self, "Database", config=config, names=names, vpc=network.vpc)
        entry = PublicLoadBalancer(
            self,
            "LoadBalancer",
            vpc=network.vpc,
            access_logs=documents.access_logs,
            certificate_arn=certificate_arn,
            domain=config.domain,
        )
        if config.web_firewall:
            WebFirewall(self, "WebFirewall", names=names, load_balancer=entry.alb)
        settings = AppSettings(
            self,
            config=config,
            names=names,
            load_balancer=entry,
            database=database,
            documents=documents,
            tasks=tasks,
        )
        # What the stack offers the app: `[tool.hangar.settings-from-outputs]` picks from these.
        resources = {
            "DocumentsBucketName": documents.bucket.bucket_name,
            "TasksQueueUrl": tasks.queue.queue_url,
            "TasksDlqUrl": tasks.dead_letter_queue.queue_url,
            "AllowedHosts": settings.allowed_hosts,
            "LoadBalancerDnsName": entry.alb.load_balancer_dns_name,
            "ServiceUrl": entry.url,
            "DjangoSecretKeyArn": settings.secret_key.secret_arn,
            "DatabaseSecretArn": database.secret.secret_arn,
            "DatabaseEndpoint": database.instance.db_instance_endpoint_address,
            "Region": self.region,
        }
        environment = {
            **settings.environment,
            **settings_from_outputs(names.contract, resources),
            "AWS_REGION": self.region,
        }
        # The app's declared secrets join the platform's: every task gets both, never as plain env.
        declared_secrets = AppSecrets(
            self, "AppSecrets", names=names, taken=[*environment, *settings.secrets]
        ).container_secrets
        runtime = AppRuntime(
            image=ecs.ContainerImage.from_ecr_repository(repository, image_tag),
            platform=runtime_platform(names.contract),
            environment=environment,
            secrets={**settings.secrets, **declared_secrets},
            log_group=logs.LogGroup(
                self,
                "AppLogs",
                log_group_name=names.path("app"),
                retention=config.log_retention,
                removal_policy=config.removal_policy,
            ),
        )
        task_role = app_task_role(self, config=config, documents=documents, tasks=tasks)
        app = AppTasks(
            self,
            config=config,
            names=names,
            network=network,
            runtime=runtime,
            task_role=task_role,
            load_balancer=entry,
            queue=tasks.queue,
            database=database,
        )
        if names.contract.schedules and config.runs_schedules:
            ScheduledCommands(
                self,
                "Schedules",
                config=config,
                names=names,
                placement=ServicePlacement(
                    cluster=app.cluster, network=network, runtime=runtime, task_role=task_role
                ),
                database=database,
            )
        Monitoring(
            self,
            "Monitoring",
            config=config,
            names=names,
            load_balancer=entry.alb,
            target_group=app.web.target_group,
            web=app.web.service,
            worker=app.worker.service if app.worker else None,
            queue=tasks.queue,
            dead_letter_queue=tasks.dead_letter_queue,
        )

        task_subnets = network.vpc.select_subnets(subnet_type=network.task_subnets.subnet_type)
        # What the tooling runs tasks and services with (deploy, run-task, remote-shell).
        operations = {
            "ClusterName": app.cluster.cluster_name,
            "WebServiceName": app.web.service.service_name,
            **({"WorkerServiceName": app.worker.service.service_name} if app.worker else {}),
            "MigrationTaskDefinitionArn": app.migration.task_definition.task_definition_arn,
            "MigrationSubnetIds": Fn.join(",", task_subnets.subnet_ids),
            "MigrationAssignPublicIp": "ENABLED" if network.assign_public_ip else "DISABLED",
            "MigrationSecurityGroupId": app.migration.security_group.security_group_id,
            "AppLogGroupName": runtime.log_group.log_group_name,
        }
        for name, value in {**resources, **operations}.items():
            CfnOutput(self, name, value=value)


def settings_from_outputs(contract: Contract, outputs: Mapping[str, str]) -> dict[str, str]:
    """The app's environment as the contract maps it onto the stack's outputs."""
    unknown = sorted(set(contract.settings_from_outputs.values()) - set(outputs))
    if unknown:
        raise ContractError(
            f"[tool.hangar.settings-from-outputs] names {', '.join(map(repr, unknown))}, which the "
            f"service stack does not output; use one of: {', '.join(outputs)}"
        )
    return {
        variable: outputs[output] for variable, output in contract.settings_from_outputs.items()
    }
