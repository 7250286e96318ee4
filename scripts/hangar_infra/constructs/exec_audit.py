"""ECS Exec's audit trail: every `make remote-shell` session is encrypted with a key of this stack
and its input and output recorded in a log group, whatever the caller's own settings say."""

from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from hangar_infra.config import StageConfig
from hangar_infra.naming import ResourceNames


class ExecAudit(Construct):
    def __init__(
        self, scope: Construct, id: str, *, config: StageConfig, names: ResourceNames
    ) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"ECS Exec sessions and their audit log, {names.prefix}",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        region = Stack.of(self).region
        # CloudWatch Logs encrypts the audit log group with the key (and checks it may).
        self.key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{region}.amazonaws.com"))
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=names.path("ecs-exec"),
            encryption_key=self.key,
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.configuration = ecs.ExecuteCommandConfiguration(
            kms_key=self.key,
            logging=ecs.ExecuteCommandLogging.OVERRIDE,
            log_configuration=ecs.ExecuteCommandLogConfiguration(
                cloud_watch_log_group=self.log_group, cloud_watch_encryption_enabled=True
            ),
        )
