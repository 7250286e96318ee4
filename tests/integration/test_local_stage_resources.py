"""The local stage as LocalStack holds it after `deploy-local`: the resource types the free
edition emulates exist with the settings the stack declares. (ECS, ELBv2 and RDS are placeholders
there; tests/infra checks them in the synthesized templates.)
"""

import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from hangar.core.contract import contract
from hangar.core.stages import STAGES
from hangar.deploy import local_stage
from hangar_infra.naming import ResourceNames

pytestmark = pytest.mark.integration

LOCAL = STAGES["local"]
SERVICE_STACK = contract().stack_names("local")[1]


@pytest.fixture(scope="module")
def aws(deployed_stack):
    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=deployed_stack["AWS_ENDPOINT_URL"],
            region_name=deployed_stack["AWS_REGION"],
            config=Config(connect_timeout=2, read_timeout=15, retries={"max_attempts": 2}),
        )

    return client


@pytest.fixture(scope="module")
def outputs(aws) -> dict[str, str]:
    stack = aws("cloudformation").describe_stacks(StackName=SERVICE_STACK)["Stacks"][0]
    assert stack["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


def test_the_env_file_the_app_reads_holds_the_stacks_outputs(deployed_stack, outputs):
    # deploy-local wrote .hangar/local.env; deployed_stack keeps this deploy's copy of it.
    written = dict(
        line.split("=", 1)
        for line in Path(os.environ["HANGAR_ENV_FILE"]).read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert written == deployed_stack
    for key, output in local_stage.env_from_outputs().items():
        if key != "DJANGO_ALLOWED_HOSTS":  # LocalStack's load balancer placeholder is dropped
            assert written[key] == outputs[output], key


def test_the_declared_buckets_are_private_encrypted_and_tls_only(aws, outputs):
    """Every bucket `[tool.hangar.buckets]` declares, and no other bucket output."""
    declared = {bucket.outputs[bucket.env] for bucket in contract().buckets}
    assert {key for key in outputs if key.endswith("BucketName")} == declared
    s3 = aws("s3")
    for output in declared:
        bucket = outputs[output]
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), (bucket, block)
        encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        assert any(
            statement["Effect"] == "Deny"
            and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for statement in statements
        ), statements


def test_the_declared_queues_redrive_to_their_dead_letter_queues(aws, outputs):
    """Every queue `[tool.hangar.queues]` declares, after the configured receives."""
    assert {key for key in outputs if key.endswith("QueueUrl")} == {
        queue.outputs[queue.env] for queue in contract().queues
    }
    sqs = aws("sqs")
    for queue in contract().queues:
        attributes = sqs.get_queue_attributes(
            QueueUrl=outputs[queue.outputs[queue.env]], AttributeNames=["All"]
        )["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        # The dead-letter queue exists whether or not the app is handed its URL (dlq-env).
        sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].rsplit(":", 1)[1])
        if queue.dlq_env:
            dlq_arn = sqs.get_queue_attributes(
                QueueUrl=outputs[queue.outputs[queue.dlq_env]], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            assert redrive["deadLetterTargetArn"] == dlq_arn
        assert int(redrive["maxReceiveCount"]) == LOCAL.queue_max_receive_count
        assert int(attributes["VisibilityTimeout"]) == LOCAL.queue_visibility_timeout_seconds


def test_secrets_exist_and_the_secret_key_is_generated(aws, outputs, deployed_stack):
    secrets = aws("secretsmanager")
    secret_key = secrets.get_secret_value(SecretId=outputs["DjangoSecretKeyArn"])["SecretString"]
    assert len(secret_key) >= 50
    assert secret_key == deployed_stack["DJANGO_SECRET_KEY"]
    database = json.loads(
        secrets.get_secret_value(SecretId=outputs["DatabaseSecretArn"])["SecretString"]
    )
    assert database["username"]
    assert len(database["password"]) >= 16


def test_ssm_parameters_hold_the_non_secret_config(aws, outputs):
    """`/<service>/local/<name>` for each declared bucket and queue (and dead-letter queue the
    app is handed), beside the allowed hosts."""
    names = ResourceNames(contract(), "local")
    expected = {
        f"{bucket.name}-bucket": outputs[bucket.outputs[bucket.env]]
        for bucket in contract().buckets
    }
    for queue in contract().queues:
        expected[f"{queue.name}-queue-url"] = outputs[queue.outputs[queue.env]]
        if queue.dlq_env:
            expected[f"{queue.name}-dlq-url"] = outputs[queue.outputs[queue.dlq_env]]
    ssm = aws("ssm")
    for name, value in expected.items():
        parameter = ssm.get_parameter(Name=names.path(name))["Parameter"]
        assert parameter["Value"] == value, name
    # Every stage's, whatever the project declares.
    assert ssm.get_parameter(Name=names.path("allowed-hosts"))["Parameter"]["Value"]


def test_the_app_log_group_exists(aws, outputs):
    # The pinned LocalStack's CloudFormation creates the group but drops RetentionInDays (seen:
    # describe_log_groups has no retentionInDays); tests/infra asserts the retention per stage.
    name = outputs["AppLogGroupName"]
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert [group["logGroupName"] for group in groups] == [name]
