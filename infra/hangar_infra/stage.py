"""One environment: a `cdk.Stage` holding the registry and service stacks of a stage."""

from aws_cdk import DefaultStackSynthesizer, Environment, Stage
from constructs import Construct

from hangar_infra.config import StageConfig
from hangar_infra.stacks.registry import RegistryStack
from hangar_infra.stacks.service import ServiceStack


def stack_names(stage: str) -> tuple[str, str]:
    """CloudFormation names of the registry and service stacks, in deploy order."""
    return f"hangar-{stage}-registry", f"hangar-{stage}-service"


class HangarStage(Stage):
    def __init__(
        self,
        scope: Construct,
        *,
        config: StageConfig,
        image_tag: str,
        certificate_arn: str | None = None,
    ) -> None:
        env = Environment(account=config.account, region=config.region)
        super().__init__(scope, f"hangar-{config.name}", env=env)
        registry_name, service_name = stack_names(config.name)
        # Each stack is deployed through its stage's own CDK bootstrap (StageConfig.cdk_qualifier);
        # a synthesizer binds to one stack, hence one each.
        self.registry = RegistryStack(
            self,
            "Registry",
            config=config,
            stack_name=registry_name,
            synthesizer=DefaultStackSynthesizer(qualifier=config.cdk_qualifier),
        )
        self.service = ServiceStack(
            self,
            "Service",
            config=config,
            repository=self.registry.repository,
            image_tag=image_tag,
            certificate_arn=certificate_arn,
            stack_name=service_name,
            synthesizer=DefaultStackSynthesizer(qualifier=config.cdk_qualifier),
        )
        # No service before its image: the repository (and the image pushed into it) come first.
        self.service.add_stack_dependency(self.registry)
