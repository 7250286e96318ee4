"""The ECR repository. It lives in its own stack so it exists before the first image is pushed."""

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from hangar.core import stage_interface
from hangar_infra.config import StageConfig
from hangar_infra.naming import ResourceNames


class RegistryStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        names: ResourceNames,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=names.prefix,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            image_scan_on_push=True,
            encryption=ecr.RepositoryEncryption.AES_256,
            # A retained stage keeps its images: rollbacks and running tasks reference them.
            removal_policy=config.removal_policy,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description="Drop untagged layers left by failed pushes",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=Duration.days(7),
                    rule_priority=1,
                ),
                ecr.LifecycleRule(
                    description="Keep the last 50 deployable images for rollbacks",
                    tag_status=ecr.TagStatus.ANY,
                    max_image_count=50,
                    rule_priority=2,
                ),
            ],
        )
        CfnOutput(self, stage_interface.REPOSITORY_NAME, value=self.repository.repository_name)
        CfnOutput(self, stage_interface.REPOSITORY_URI, value=self.repository.repository_uri)
