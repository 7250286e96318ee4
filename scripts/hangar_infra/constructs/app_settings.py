"""What the app is configured with besides its data stores' names: its SECRET_KEY (generated into
Secrets Manager), the hosts it answers, the database credentials, and the SSM parameters that
publish the names it uses."""

from aws_cdk import Fn, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm

from hangar_infra.config import StageConfig
from hangar_infra.constructs.database import Database
from hangar_infra.constructs.load_balancer import PublicLoadBalancer
from hangar_infra.constructs.nag import acknowledge
from hangar_infra.constructs.storage import Storage
from hangar_infra.constructs.task_queue import TaskQueues
from hangar_infra.naming import ResourceNames


class AppSettings:
    """Built in the stack's own scope, not as a construct of its own: the secret and the parameters
    keep the logical ids (and so the resources) of stacks deployed before this class existed."""

    def __init__(
        self,
        stack: Stack,
        *,
        config: StageConfig,
        names: ResourceNames,
        load_balancer: PublicLoadBalancer,
        database: Database,
        storage: Storage,
        queues: TaskQueues,
    ) -> None:
        self.secret_key = secretsmanager.Secret(
            stack,
            "DjangoSecretKey",
            description=f"Django SECRET_KEY for {names.prefix}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        acknowledge(
            self.secret_key,
            "AwsSolutions-SMG4",
            "Rotating SECRET_KEY logs every user out and invalidates signed data; it is rotated "
            "deliberately with a redeploy, not on a schedule.",
        )
        self.allowed_hosts = Fn.join(
            ",",
            [
                load_balancer.alb.load_balancer_dns_name,
                *([config.domain] if config.domain else []),
                *config.extra_allowed_hosts,
            ],
        )
        # Hangar's own settings, the same for every app; the app's own are its declared
        # resources' names and its stage's plain environment (ServiceStack).
        self.environment = {
            "DJANGO_ENV": "production",
            "DJANGO_ALLOWED_HOSTS": self.allowed_hosts,
            # Whether the ALB terminates TLS: HTTPS redirect, HSTS and Secure cookies follow.
            "DJANGO_HTTPS": "true" if load_balancer.https else "false",
        }
        self.secrets = {
            "DJANGO_SECRET_KEY": ecs.Secret.from_secrets_manager(self.secret_key),
            "DB_HOST": ecs.Secret.from_secrets_manager(database.secret, "host"),
            "DB_PORT": ecs.Secret.from_secrets_manager(database.secret, "port"),
            "DB_NAME": ecs.Secret.from_secrets_manager(database.secret, "dbname"),
            "DB_USER": ecs.Secret.from_secrets_manager(database.secret, "username"),
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(database.secret, "password"),
        }
        parameters = {
            **{f"{bucket.name}-bucket": b.bucket_name for bucket, b in storage.buckets.items()},
            **{f"{q.declared.name}-queue-url": q.queue.queue_url for q in queues.queues},
            **{
                f"{q.declared.name}-dlq-url": q.dead_letter_queue.queue_url
                for q in queues.queues
                if q.declared.dlq_env
            },
            "allowed-hosts": self.allowed_hosts,
        }
        for name, value in parameters.items():
            ssm.StringParameter(
                stack,
                f"Parameter-{name}",
                parameter_name=names.path(name),
                string_value=value,
            )
