"""The one container definition every task of the app uses: web, worker and the migration task.

They share the image, the environment and the secrets, so a migration can never run against a
different configuration than the services it prepares.
"""

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs

from hangar.core.stage_interface import CONTAINER_NAME


@dataclass(frozen=True)
class AppRuntime:
    image: ecs.ContainerImage
    # The CPU the image is built for (the contract's image-platform): every task declares it.
    platform: ecs.RuntimePlatform
    # Non-secret configuration only; anything sensitive goes into `secrets`.
    environment: dict[str, str]
    secrets: dict[str, ecs.Secret]
    log_group: logs.ILogGroup

    def add_container(
        self,
        task_definition: ecs.FargateTaskDefinition,
        *,
        command: list[str] | None,
        log_prefix: str,
        port: int | None = None,
        environment: dict[str, str] | None = None,
        stop_timeout: Duration | None = None,
    ) -> ecs.ContainerDefinition:
        """`environment` adds what only this task needs (the web server size) to the shared one."""
        return task_definition.add_container(
            CONTAINER_NAME,
            image=self.image,
            command=command,
            environment={**self.environment, **(environment or {})},
            stop_timeout=stop_timeout,
            secrets=self.secrets,
            logging=ecs.LogDriver.aws_logs(stream_prefix=log_prefix, log_group=self.log_group),
            port_mappings=[ecs.PortMapping(container_port=port)] if port else None,
            # An init process as PID 1 reaps the processes ECS Exec sessions leave behind (AWS's
            # recommendation for ECS Exec); the app's own process then is not PID 1 either.
            linux_parameters=ecs.LinuxParameters(
                task_definition, "LinuxParameters", init_process_enabled=True
            ),
        )
