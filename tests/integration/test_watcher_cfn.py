"""The deploy watcher against LocalStack's real CloudFormation: broken templates, named in words.

The failing resource is an SSM parameter of a type that does not exist: the pinned LocalStack
passes it to PutParameter, which rejects it with a validation error, as AWS does.
"""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import boto3
import pytest

from hangar.deploy.watcher import AwsClients, Thresholds, WatchResult, watch_stack, watching

pytestmark = pytest.mark.integration

QUEUE = {"TasksQueue": {"Type": "AWS::SQS::Queue"}}
BROKEN_PARAMETER = {
    "ConfigParameter": {
        "Type": "AWS::SSM::Parameter",
        "DependsOn": "TasksQueue",  # so the queue completes first and shows its duration
        "Properties": {"Type": "NotAType", "Value": "x"},
    }
}
FAST = Thresholds(poll_interval=0.5)


def template(resources: dict[str, Any]) -> str:
    return json.dumps({"Resources": resources})


@pytest.fixture
def clients(localstack_endpoint: str) -> AwsClients:
    session = boto3.Session(
        region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    return AwsClients.from_session(session, endpoint_url=localstack_endpoint)


@pytest.fixture
def stack_name(clients: AwsClients) -> Iterator[str]:
    name = f"hangar-watcher-{uuid4().hex[:8]}"
    yield name
    clients.cloudformation.delete_stack(StackName=name)


def watch_with_deadline(
    clients: AwsClients, name: str, since: datetime
) -> tuple[WatchResult, list[str]]:
    """watch_stack, stopped after 120 s: a watcher that misses the end fails instead of hanging."""
    lines: list[str] = []
    stop = threading.Event()
    deadline = threading.Timer(120, stop.set)
    deadline.start()
    try:
        result = watch_stack(
            clients, name, since=since, thresholds=FAST, on_line=lines.append, stop=stop
        )
    finally:
        deadline.cancel()
    assert not stop.is_set(), f"the watcher did not see the stack's operation end:\n{lines}"
    return result, lines


def wait_until_settled(clients: AwsClients, name: str, operation: str) -> str:
    """The stack's status once `operation` (CREATE, UPDATE) has ended.

    LocalStack passes through its creation-failure statuses while it fails an update, and ends
    such an update in UPDATE_COMPLETE: only a settled status of the operation counts.
    """
    for _ in range(240):
        status = clients.cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if status.startswith(operation) and not status.endswith("_IN_PROGRESS"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"{name}: {operation} still not settled after 120 s ({status})")


def test_failed_create_names_the_resource_and_its_reason(
    clients: AwsClients, stack_name: str
) -> None:
    since = datetime.now(UTC)
    clients.cloudformation.create_stack(
        StackName=stack_name, TemplateBody=template(QUEUE | BROKEN_PARAMETER)
    )

    result, lines = watch_with_deadline(clients, stack_name, since)

    assert not result.succeeded
    assert result.status in {"CREATE_FAILED", "ROLLBACK_COMPLETE"}
    cause = result.root_cause
    assert cause is not None
    assert (cause.logical_id, cause.resource_type) == ("ConfigParameter", "AWS::SSM::Parameter")
    assert "NotAType" in cause.reason
    failed_line = next(line for line in lines if "CREATE_FAILED AWS::SSM::Parameter" in line)
    assert "ConfigParameter" in failed_line
    assert "NotAType" in failed_line
    # The healthy resource's line carries how long it took, from its own IN_PROGRESS event.
    assert any(
        "CREATE_COMPLETE AWS::SQS::Queue TasksQueue (" in line and line.endswith("s)")
        for line in lines
    ), lines
    assert lines[-1].startswith("!! ConfigParameter (AWS::SSM::Parameter) failed:"), lines


def test_background_watch_of_a_failed_update_shows_only_the_new_events(
    clients: AwsClients, stack_name: str
) -> None:
    clients.cloudformation.create_stack(StackName=stack_name, TemplateBody=template(QUEUE))
    assert wait_until_settled(clients, stack_name, "CREATE") == "CREATE_COMPLETE"

    lines: list[str] = []
    with watching(
        clients, [stack_name], since=datetime.now(UTC), thresholds=FAST, on_line=lines.append
    ) as watch:
        clients.cloudformation.update_stack(
            StackName=stack_name, TemplateBody=template(QUEUE | BROKEN_PARAMETER)
        )
        wait_until_settled(clients, stack_name, "UPDATE")

    assert watch.errors == []
    [result] = watch.results
    assert not result.succeeded
    cause = result.root_cause
    assert cause is not None
    assert cause.logical_id == "ConfigParameter"
    assert not any("CREATE_COMPLETE AWS::SQS::Queue" in line for line in lines), lines
    assert any("ConfigParameter" in line and "NotAType" in line for line in lines), lines
