"""The app's declared buckets (`[tool.hangar.buckets.<name>]`) and the bucket their access logs
(and the load balancer's) are written to, which exists for every app."""

from typing import Any

from aws_cdk import CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from hangar.core.contract import Bucket
from hangar_infra.config import StageConfig
from hangar_infra.constructs.nag import acknowledge


class Storage(Construct):
    def __init__(
        self, scope: Construct, id: str, *, config: StageConfig, declared: tuple[Bucket, ...]
    ) -> None:
        super().__init__(scope, id)
        self.access_logs = _bucket(
            self,
            "AccessLogs",
            config,
            # ALB access logging only supports SSE-S3.
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access-log bucket; logging it into itself would loop.",
        )
        # Each named by its declared name's CamelCase form (a bucket `uploads`: StorageUploads…),
        # the logical ids stacks deployed before buckets were declared already have.
        self.buckets = {
            bucket: _bucket(
                self,
                bucket.id,
                config,
                encryption=s3.BucketEncryption.S3_MANAGED,
                versioned=config.versioned_bucket,
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix=f"{bucket.name}/",
            )
            for bucket in declared
        }


def _bucket(scope: Construct, id: str, config: StageConfig, **properties: Any) -> s3.Bucket:
    """A private, TLS-only bucket removed as the stage says, and emptied when CloudFormation
    deletes it if the stage asks for that (StageConfig.auto_delete_objects)."""
    bucket = s3.Bucket(
        scope,
        id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        # CDK empties only buckets it destroys (it checks the bucket's own removal policy); a
        # retained stage's policies are written over it below.
        removal_policy=RemovalPolicy.DESTROY
        if config.auto_delete_objects
        else config.removal_policy,
        auto_delete_objects=config.auto_delete_objects,
        **properties,
    )
    if config.auto_delete_objects and config.removal_policy is not RemovalPolicy.DESTROY:
        # The emptying custom resource is deleted (and empties the bucket) exactly when the
        # bucket is: by a failed first create (RetainExceptOnCreate), never by the stage's
        # delete or an update, which retain both.
        emptying = bucket.node.find_child("AutoDeleteObjectsCustomResource").node.default_child
        for resource in (bucket.node.default_child, emptying):
            assert isinstance(resource, CfnResource)
            resource.add_override("DeletionPolicy", "RetainExceptOnCreate")
            resource.add_override("UpdateReplacePolicy", "Retain")
    return bucket
