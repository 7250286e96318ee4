"""What the app runs on, as a composition: network, data stores, entry point, the app's settings and
role, the tasks that run its image, monitoring, and the outputs the tooling and the app read."""

from collections.abc import Mapping

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from hangar.core.contract import Contract, ContractError
from hangar.core.stage_interface import (
    ALLOWED_HOSTS,
    APP_LOG_GROUP_NAME,
    CLUSTER_NAME,
    DATABASE_ENDPOINT,
    DATABASE_SECRET_ARN,
    LOAD_BALANCER_DNS_NAME,
    MIGRATION_ASSIGN_PUBLIC_IP,
    MIGRATION_SECURITY_GROUP_ID,
    MIGRATION_SUBNET_IDS,
    MIGRATION_TASK_DEFINITION_ARN,
    REGION,
    SECRET_KEY_ARN,
    SERVICE_URL,
    WEB_SERVICE_NAME,
)
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
from hangar_infra.constructs.storage import Storage
from hangar_infra.constructs.task_queue import TaskQueues
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
        contract = names.contract
        network = Network(self, "Network", config=config)
        storage = Storage(self, "Storage", config=config, declared=contract.buckets)
        queues = TaskQueues(self, "Queue", config=config, declared=contract.queues)
        database = Database(self, "Database", config=config, names=names, vpc=network.vpc)
        entry = PublicLoadBalancer(
            self,
            "LoadBalancer",
            vpc=network.vpc,
            access_logs=storage.access_logs,
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
            storage=storage,
            queues=queues,
        )
        declared = declared_outputs(storage, queues)
        resources = {
            **declared,
            ALLOWED_HOSTS: settings.allowed_hosts,
            LOAD_BALANCER_DNS_NAME: entry.alb.load_balancer_dns_name,
            SERVICE_URL: entry.url,
            SECRET_KEY_ARN: settings.secret_key.secret_arn,
            DATABASE_SECRET_ARN: database.secret.secret_arn,
            DATABASE_ENDPOINT: database.instance.db_instance_endpoint_address,
            REGION: self.region,
        }
        environment = app_environment(
            contract,
            config.name,
            platform={**settings.environment, "AWS_REGION": self.region},
            declared=declared,
            secrets=settings.secrets,
        )
        # The app's declared secrets join the platform's: every task gets both, never as plain env.
        declared_secrets = AppSecrets(
            self, "AppSecrets", names=names, taken=[*environment, *settings.secrets]
        ).container_secrets
        task_role = app_task_role(self, config=config, storage=storage, queues=queues)
        runtime = AppRuntime(
            image=ecs.ContainerImage.from_ecr_repository(repository, image_tag),
            platform=runtime_platform(contract),
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
        app = AppTasks(
            self,
            config=config,
            names=names,
            network=network,
            runtime=runtime,
            task_role=task_role,
            load_balancer=entry,
            queues=queues.queues,
            database=database,
        )
        if contract.schedules and config.runs_schedules:
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
            services={
                "Web": app.web.service,
                **{f"{q.declared.id}Worker": worker.service for q, worker in app.workers},
            },
            queues=queues.queues,
        )

        task_subnets = network.vpc.select_subnets(subnet_type=network.task_subnets.subnet_type)
        # What the tooling runs tasks and services with (deploy, run-task, remote-shell).
        operations = {
            CLUSTER_NAME: app.cluster.cluster_name,
            WEB_SERVICE_NAME: app.web.service.service_name,
            **{q.declared.worker_output: worker.service.service_name for q, worker in app.workers},
            MIGRATION_TASK_DEFINITION_ARN: app.migration.task_definition.task_definition_arn,
            MIGRATION_SUBNET_IDS: Fn.join(",", task_subnets.subnet_ids),
            MIGRATION_ASSIGN_PUBLIC_IP: "ENABLED" if network.assign_public_ip else "DISABLED",
            MIGRATION_SECURITY_GROUP_ID: app.migration.security_group.security_group_id,
            APP_LOG_GROUP_NAME: runtime.log_group.log_group_name,
        }
        for name, value in {**resources, **operations}.items():
            CfnOutput(self, name, value=value)


def declared_outputs(storage: Storage, queues: TaskQueues) -> dict[str, str]:
    """Each declared resource's output (named by the contract, `Bucket.outputs`/`Queue.outputs`),
    with the value it holds."""
    values: dict[str, str] = {}
    for bucket, created in storage.buckets.items():
        (output,) = bucket.outputs.values()
        values[output] = created.bucket_name
    for queue in queues.queues:
        outputs = queue.declared.outputs
        values[outputs[queue.declared.env]] = queue.queue.queue_url
        if queue.declared.dlq_env:
            values[outputs[queue.declared.dlq_env]] = queue.dead_letter_queue.queue_url
    return values


def app_environment(
    contract: Contract,
    stage: str,
    *,
    platform: Mapping[str, str],
    declared: Mapping[str, str],
    secrets: Mapping[str, object],
) -> dict[str, str]:
    """The app's plain environment: the platform's settings, each declared resource's variable
    (`Contract.env_from_outputs`) and the stage's `[tool.hangar.env.<stage>]`. A stage variable
    cannot replace one the platform sets."""
    stage_env = contract.stage_env.get(stage, {})
    if taken := sorted(set(stage_env) & {*platform, *secrets}):
        raise ContractError(
            f"[tool.hangar.env.{stage}] sets {taken[0]}, which Hangar sets itself; remove it there"
        )
    from_resources = {
        variable: declared[output] for variable, output in contract.env_from_outputs.items()
    }
    return {**stage_env, **platform, **from_resources}
