"""The documents bucket and the bucket its access logs (and the load balancer's) are written to."""

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hangar_infra.config import StageConfig
from hangar_infra.constructs.nag import acknowledge


class DocumentStore(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig) -> None:
        super().__init__(scope, id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # ALB access logging only supports SSE-S3.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=config.removal_policy,
            auto_delete_objects=config.auto_delete_objects,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access-log bucket; logging it into itself would loop.",
        )
        self.bucket = s3.Bucket(
            self,
            "Documents",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=config.versioned_bucket,
            removal_policy=config.removal_policy,
            auto_delete_objects=config.auto_delete_objects,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="documents/",
        )
