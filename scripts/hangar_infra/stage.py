"""One environment: a `cdk.Stage` holding the registry and service stacks of a stage."""

from aws_cdk import DefaultStackSynthesizer, Environment, PermissionsBoundary, Stage
from constructs import Construct

from hangar.core.contract import Contract
from hangar.core.contract import contract as checkout_contract
from hangar.core.stages import PERMISSIONS_BOUNDARY
from hangar_infra.config import StageConfig
from hangar_infra.naming import ResourceNames
from hangar_infra.stacks.registry import RegistryStack
from hangar_infra.stacks.service import ServiceStack


class HangarStage(Stage):
    def __init__(
        self,
        scope: Construct,
        *,
        config: StageConfig,
        image_tag: str,
        certificate_arn: str | None = None,
        contract: Contract | None = None,
    ) -> None:
        """`contract`: the contract the stage is built for; default, the checkout's."""
        names = ResourceNames(contract or checkout_contract(), config.name)
        env = Environment(account=config.account, region=config.region)
        # Every role of the stage gets its bootstrap's boundary (hangar.cdk.bootstrap_template):
        # whatever a role's policies say, it never administers IAM or reaches another stage.
        super().__init__(
            scope,
            names.prefix,
            env=env,
            permissions_boundary=PermissionsBoundary.from_name(PERMISSIONS_BOUNDARY),
        )
        registry_name, service_name = names.stacks
        # Each stack is deployed through its stage's own CDK bootstrap (StageConfig.cdk_qualifier);
        # a synthesizer binds to one stack, hence one each.
        self.registry = RegistryStack(
            self,
            "Registry",
            config=config,
            names=names,
            stack_name=registry_name,
            synthesizer=DefaultStackSynthesizer(qualifier=config.cdk_qualifier),
        )
        self.service = ServiceStack(
            self,
            "Service",
            config=config,
            names=names,
            repository=self.registry.repository,
            image_tag=image_tag,
            certificate_arn=certificate_arn,
            stack_name=service_name,
            synthesizer=DefaultStackSynthesizer(qualifier=config.cdk_qualifier),
        )
        # No service before its image: the repository (and the image pushed into it) come first.
        self.service.add_stack_dependency(self.registry)
