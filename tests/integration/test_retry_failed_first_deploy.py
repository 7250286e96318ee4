"""A first deploy that fails can be retried: against LocalStack's CloudFormation, for real.

The resources are the staging stage's own, as the CDK app synthesizes them: every log group with a
fixed name (the app's, the database's), with the removal policies it really gets. The first
creation fails on purpose (a queue whose name SQS rejects, created after them) and rolls back; the
rolled-back stack is deleted, as `cdk deploy` does before it creates a stack again, and the same
resources are created again. With RetainExceptOnCreate that succeeds; with plain Retain (the bad
fixture, what the stage had before) the log groups outlive the failed stack and the retry fails,
which proves the test can tell the two apart. LocalStack (the pinned version) honours both
policies; the database itself cannot be tried here (no RDS in the free LocalStack).
"""

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from hangar.core.aws_clients import aws_client

pytestmark = pytest.mark.integration

REGION = "us-east-1"


@pytest.fixture(scope="module")
def staging_named_log_groups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The staging service stack's log groups that have a fixed name, exactly as synthesized."""
    from aws_cdk import App

    from hangar_infra.app_factory import build_stage

    outdir: Path = tmp_path_factory.mktemp("staging-assembly")
    app = App(context={"stage": "staging", "imageTag": "0" * 40}, outdir=str(outdir))
    stage = build_stage(app)
    app.synth()
    template = json.loads(
        (outdir / f"assembly-{stage.stage_name}" / stage.service.template_file).read_text()
    )
    groups = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in resource["Properties"]
    }
    assert len(groups) >= 2, "the app's and the database's log groups have fixed names"
    return groups


@pytest.fixture
def cloudformation(localstack_endpoint: str) -> Any:
    return aws_client("cloudformation", region=REGION, endpoint=localstack_endpoint)


def renamed(
    groups: dict[str, Any], suffix: str, deletion_policy: str | None = None
) -> dict[str, Any]:
    """The same resources under names of this run only (LocalStack is shared by the session)."""
    resources = {}
    for logical_id, resource in groups.items():
        properties = {**resource["Properties"]}
        properties["LogGroupName"] = f"{properties['LogGroupName']}-{suffix}"
        # The ECS Exec audit group is encrypted with a key of the same stack; which key encrypts
        # a group plays no part in whether a retry finds its name taken, so only the groups go in.
        properties.pop("KmsKeyId", None)
        copy = {key: value for key, value in resource.items() if key != "DependsOn"}
        copy["Properties"] = properties
        if deletion_policy is not None:
            copy["DeletionPolicy"] = deletion_policy
        resources[logical_id] = copy
    return resources


def create(cloudformation: Any, name: str, resources: dict[str, Any]) -> tuple[str, list[str]]:
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": resources}))
    deadline = time.monotonic() + 120
    while True:
        status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(1)
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if "FAILED" in e["ResourceStatus"]]
    return status, reasons


def delete(cloudformation: Any, name: str) -> None:
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


def first_deploy_then_retry(
    cloudformation: Any, resources: dict[str, Any]
) -> tuple[str, str, list[str]]:
    name = f"hangar-retry-{uuid.uuid4().hex[:8]}"
    failing = {
        **resources,
        "FailOnPurpose": {
            "Type": "AWS::SQS::Queue",
            "DependsOn": sorted(resources),  # after the log groups exist
            "Properties": {"QueueName": "not a valid queue name!"},
        },
    }
    first, _ = create(cloudformation, name, failing)
    delete(cloudformation, name)  # what cdk deploy does with a stack in ROLLBACK_COMPLETE
    retry, reasons = create(cloudformation, name, resources)
    delete(cloudformation, name)
    return first, retry, reasons


def test_a_failed_first_deploy_of_staging_can_be_retried(
    cloudformation: Any, staging_named_log_groups: dict[str, Any]
) -> None:
    policies = {r["DeletionPolicy"] for r in staging_named_log_groups.values()}
    assert policies == {"RetainExceptOnCreate"}
    resources = renamed(staging_named_log_groups, uuid.uuid4().hex[:8])

    first, retry, reasons = first_deploy_then_retry(cloudformation, resources)

    assert "FAILED" in first or "ROLLBACK" in first
    assert retry == "CREATE_COMPLETE", reasons


def test_with_plain_retain_the_retry_would_fail(
    cloudformation: Any, staging_named_log_groups: dict[str, Any], localstack_endpoint: str
) -> None:
    resources = renamed(staging_named_log_groups, uuid.uuid4().hex[:8], deletion_policy="Retain")

    try:
        _, retry, _ = first_deploy_then_retry(cloudformation, resources)
    finally:
        logs = aws_client("logs", region=REGION, endpoint=localstack_endpoint)
        for resource in resources.values():
            name = resource["Properties"]["LogGroupName"]
            if logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]:
                logs.delete_log_group(logGroupName=name)

    assert retry != "CREATE_COMPLETE"
