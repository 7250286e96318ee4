"""Recorded-response tests of the ECS diagnosis and of the watcher's decision to stop a deploy.

The free LocalStack emulates neither ECS nor ELBv2, so these tests replay responses recorded in
the documented API shapes (tests/unit/fixtures/ecs/*.json) through botocore's Stubber, which
validates every response against the real service model: a misspelt or extra field fails the test.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.model import Shape
from botocore.stub import Stubber

from hangar.deploy.ecs_diagnosis import (
    HEALTH_CHECK_400_HINT,
    IMAGE_NOT_FOUND_HINT,
    ServiceProbe,
    cluster_of,
    task_failed,
)
from hangar.deploy.watcher import AwsClients, Thresholds, watch_stack

FIXTURES = Path(__file__).parent / "fixtures" / "ecs"
SINCE = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/HangarApp-dev/"
    "5a6b7c80-1d2e-11f1-9a3b-0e4f5d6c7b8a"
)


def typed(shape: Shape | None, value: Any) -> Any:
    """JSON → what botocore's parser would return: timestamps become aware datetimes."""
    if shape is None:  # an operation without output, e.g. CancelUpdateStack
        return value
    if shape.type_name == "structure":
        return {k: typed(shape.members[k], v) for k, v in value.items()}  # type: ignore[attr-defined]
    if shape.type_name == "list":
        return [typed(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return {k: typed(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if shape.type_name == "timestamp":
        return datetime.fromisoformat(value)
    return value


class Recorded:
    """Stubbed clients that answer from recorded responses, checked against the service models."""

    def __init__(self) -> None:
        session = boto3.Session(
            region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        self.clients = AwsClients(
            cloudformation=session.client("cloudformation"),
            ecs=session.client("ecs"),
            elbv2=session.client("elbv2"),
            logs=session.client("logs"),
        )
        self.stubbers = {
            name: Stubber(getattr(self.clients, name))
            for name in ("cloudformation", "ecs", "elbv2", "logs")
        }

    def add(self, service: str, method: str, response: dict[str, Any], **expected: Any) -> None:
        client = getattr(self.clients, service)
        operation = client.meta.service_model.operation_model(
            client.meta.method_to_api_mapping[method]
        )
        self.stubbers[service].add_response(
            method, typed(operation.output_shape, response), expected or None
        )

    def add_polls(self, fixture: dict[str, Any], service_arn: str) -> None:
        """Queue each recorded poll; a poll without an operation repeats the previous answer."""
        cluster = cluster_of(service_arn)
        answers: dict[str, Any] = {}
        seen: list[str] = []
        for poll in fixture["polls"]:
            answers |= poll
            self.add("ecs", "describe_services", answers["describe_services"])
            self.add("ecs", "list_tasks", answers["list_tasks"])
            arns = answers["list_tasks"]["taskArns"]
            unseen = [arn for arn in arns if arn not in seen]
            seen += unseen
            if unseen:
                self.add(
                    "ecs",
                    "describe_tasks",
                    answers["describe_tasks"],
                    cluster=cluster,
                    tasks=unseen,
                )
            self.add("elbv2", "describe_target_health", answers["describe_target_health"])

    def __enter__(self) -> "Recorded":
        for stubber in self.stubbers.values():
            stubber.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        for stubber in self.stubbers.values():
            stubber.deactivate()

    def assert_all_used(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    with Recorded() as stubs:
        yield stubs
        stubs.assert_all_used()


def probe_for(recorded: Recorded, fixture: dict[str, Any]) -> ServiceProbe:
    c = recorded.clients
    return ServiceProbe(c.ecs, c.elbv2, c.logs, fixture["service_arn"], SINCE)


@pytest.mark.parametrize(
    "name", ["health_check_400", "essential_container_exit", "image_not_found"]
)
def test_every_fixture_is_a_valid_response_of_the_real_service_model(name: str) -> None:
    fixture = load(name)
    with Recorded() as stubs:
        stubs.add_polls(fixture, fixture["service_arn"])
        if "describe_task_definition" in fixture:
            stubs.add("ecs", "describe_task_definition", fixture["describe_task_definition"])
            stubs.add("logs", "get_log_events", fixture["get_log_events"])


def test_health_check_400_is_blamed_on_allowed_hosts(recorded: Recorded) -> None:
    fixture = load("health_check_400")
    recorded.add_polls(fixture, fixture["service_arn"])
    probe = probe_for(recorded, fixture)

    first = probe.poll()
    second = probe.poll()

    # Yesterday's "steady state" event is older than the deploy and not shown.
    assert not any("steady state" in line for line in first)
    assert any(
        "Target.ResponseCodeMismatch: Health checks failed with these codes: [400]" in line
        for line in first
    )
    assert [t.task_id for t in probe.failed_tasks] == [
        "3b9d2f1e0c8a4b6d9e7f5a3c1b2d4e6f",
        "7e1f0c2b9a3d4e5f8a6b1c2d3e4f5a6b",
        "c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f",
    ]
    assert len([line for line in second if "stopped: Task failed ELB health checks" in line]) == 2
    diagnosis = probe.diagnose()
    assert diagnosis is not None
    assert diagnosis.hint == HEALTH_CHECK_400_HINT
    assert "health check answered 400" in diagnosis.cause


def test_crashed_container_is_explained_with_its_last_log_lines(recorded: Recorded) -> None:
    fixture = load("essential_container_exit")
    recorded.add_polls(fixture, fixture["service_arn"])
    recorded.add(
        "ecs",
        "describe_task_definition",
        fixture["describe_task_definition"],
        taskDefinition="arn:aws:ecs:us-east-1:123456789012:task-definition/hangarweb:8",
    )
    recorded.add(
        "logs",
        "get_log_events",
        fixture["get_log_events"],
        logGroupName="/hangar/dev/web",
        logStreamName="web/web/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6",
        limit=15,
        startFromHead=False,
    )
    probe = probe_for(recorded, fixture)

    probe.poll()
    diagnosis = probe.diagnose()

    assert diagnosis is not None
    assert diagnosis.cause == "essential container web exited (exit code 1)"
    assert diagnosis.hint.startswith(
        "the container crashed at start: look at the log group /hangar/dev/web"
    )
    assert diagnosis.evidence[-1] == (
        "django.core.exceptions.ImproperlyConfigured: DJANGO_SECRET_KEY is required when "
        "DJANGO_ENV=production"
    )


def test_missing_image_tag_says_push_before_deploying(recorded: Recorded) -> None:
    fixture = load("image_not_found")
    recorded.add_polls(fixture, fixture["service_arn"])
    probe = probe_for(recorded, fixture)

    lines = probe.poll()
    diagnosis = probe.diagnose()

    assert len(probe.failed_tasks) == 3
    assert all("CannotPullContainerError" in line for line in lines if "stopped" in line)
    assert diagnosis is not None
    assert diagnosis.hint == IMAGE_NOT_FOUND_HINT
    assert "hangar-web:3f9c2ab: not found" in diagnosis.cause


def test_tasks_replaced_by_a_deployment_are_not_failures() -> None:
    replaced = {
        "stopCode": "ServiceSchedulerInitiated",
        "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1)",
    }
    unhealthy = {
        "stopCode": "ServiceSchedulerInitiated",
        "stoppedReason": "Task failed ELB health checks in (target-group x)",
    }
    assert not task_failed(replaced)
    assert task_failed(unhealthy)
    assert task_failed(
        {
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
        }
    )


def stack_event(
    logical: str, kind: str, status: str, at: str, physical: str, reason: str = ""
) -> dict[str, Any]:
    event = {
        "StackId": STACK_ID,
        "EventId": f"{logical}-{status}-{at}",
        "StackName": "HangarApp-dev",
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical,
        "ResourceType": kind,
        "Timestamp": f"{at}+00:00",
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def stack(status: str) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackId": STACK_ID,
                "StackName": "HangarApp-dev",
                "CreationTime": "2026-03-01T09:00:00+00:00",
                "StackStatus": status,
            }
        ]
    }


# show_events=False is how `hangar deploy` runs it: cdk prints the events, the watcher the rest.
@pytest.mark.parametrize("show_events", [True, False])
def test_watcher_cancels_an_update_whose_service_keeps_failing_health_checks(
    recorded: Recorded, show_events: bool
) -> None:
    fixture = load("health_check_400")
    service = fixture["service_arn"]
    root = ("HangarApp-dev", "AWS::CloudFormation::Stack")
    web = ("WebService", "AWS::ECS::Service")
    before = [
        stack_event(*web, "UPDATE_IN_PROGRESS", "2026-03-02T12:00:36", service),
        stack_event(*root, "UPDATE_IN_PROGRESS", "2026-03-02T12:00:32", STACK_ID, "User Initiated"),
        # Yesterday's deploy, older than `since`: not shown.
        stack_event(*root, "UPDATE_COMPLETE", "2026-03-01T09:05:00", STACK_ID),
    ]
    rollback = [
        stack_event(*root, "UPDATE_ROLLBACK_COMPLETE", "2026-03-02T12:16:02", STACK_ID),
        stack_event(*web, "UPDATE_COMPLETE", "2026-03-02T12:15:40", service),
        stack_event(
            *web, "UPDATE_FAILED", "2026-03-02T12:11:05", service, "Resource update cancelled"
        ),
        stack_event(
            *root,
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "2026-03-02T12:11:03",
            STACK_ID,
            "Stack update cancelled",
        ),
    ]
    cfn = "cloudformation"
    recorded.add(cfn, "describe_stack_events", {"StackEvents": before}, StackName="HangarApp-dev")
    recorded.add(cfn, "describe_stacks", stack("UPDATE_IN_PROGRESS"), StackName=STACK_ID)
    recorded.add(cfn, "describe_stack_events", {"StackEvents": before}, StackName=STACK_ID)
    recorded.add(cfn, "describe_stacks", stack("UPDATE_IN_PROGRESS"), StackName=STACK_ID)
    recorded.add(cfn, "cancel_update_stack", {}, StackName=STACK_ID)
    recorded.add(cfn, "describe_stacks", stack("UPDATE_ROLLBACK_IN_PROGRESS"), StackName=STACK_ID)
    recorded.add(
        cfn, "describe_stack_events", {"StackEvents": rollback + before}, StackName=STACK_ID
    )
    recorded.add(cfn, "describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), StackName=STACK_ID)
    recorded.add_polls(fixture, service)
    lines: list[str] = []

    result = watch_stack(
        recorded.clients,
        "HangarApp-dev",
        since=SINCE,
        thresholds=Thresholds(stopped_tasks=3, service_timeout=timedelta(hours=1), poll_interval=0),
        on_line=lines.append,
        show_events=show_events,
    )

    assert result.action is not None
    assert result.action.startswith("cancelled the update")
    assert result.diagnosis is not None
    assert result.diagnosis.hint == HEALTH_CHECK_400_HINT
    assert result.status == "UPDATE_ROLLBACK_COMPLETE"
    assert not result.succeeded
    assert f"!! hint: {HEALTH_CHECK_400_HINT}" in lines
    assert not any("09:05" in line for line in lines)
    event_lines = [line for line in lines if "AWS::CloudFormation::Stack HangarApp-dev" in line]
    if show_events:
        assert any("UPDATE_ROLLBACK_COMPLETE AWS::CloudFormation::Stack" in x for x in event_lines)
    else:
        assert event_lines == []


def test_watcher_never_deletes_a_stack_that_is_being_created(recorded: Recorded) -> None:
    """A CREATE has no cancel, and a delete is no rollback: DeleteStack would keep what
    RetainExceptOnCreate retains (the fixed-name log groups) and the retry would fail "already
    exists". The watcher explains the failure and leaves the create to the ECS circuit breaker,
    after which CloudFormation rolls it back. The stubs hold no DeleteStack: a call would fail."""
    fixture = load("image_not_found")
    service = fixture["service_arn"]
    root = ("HangarApp-dev", "AWS::CloudFormation::Stack")
    web = ("WebService", "AWS::ECS::Service")
    creating = [
        stack_event(
            *web,
            "CREATE_IN_PROGRESS",
            "2026-03-02T12:00:40",
            service,
            "Resource creation Initiated",
        ),
        stack_event(*web, "CREATE_IN_PROGRESS", "2026-03-02T12:00:38", ""),
        stack_event(*root, "CREATE_IN_PROGRESS", "2026-03-02T12:00:32", STACK_ID, "User Initiated"),
    ]
    breaker = (
        "Resource handler returned message: \"Error occurred during operation 'ECS Deployment "
        "Circuit Breaker was triggered'.\""
    )
    rolled_back = [
        stack_event(*root, "ROLLBACK_COMPLETE", "2026-03-02T12:09:10", STACK_ID),
        stack_event(*web, "DELETE_COMPLETE", "2026-03-02T12:09:00", service),
        stack_event(
            *root,
            "ROLLBACK_IN_PROGRESS",
            "2026-03-02T12:08:30",
            STACK_ID,
            "The following resource(s) failed to create: [WebService]. Rollback requested by user.",
        ),
        stack_event(*web, "CREATE_FAILED", "2026-03-02T12:08:29", service, breaker),
    ]
    cfn = "cloudformation"
    recorded.add(cfn, "describe_stack_events", {"StackEvents": creating}, StackName="HangarApp-dev")
    # The watcher gives up (three tasks could not pull their image) and reads the status...
    recorded.add(cfn, "describe_stacks", stack("CREATE_IN_PROGRESS"), StackName=STACK_ID)
    # ...which is still CREATE_IN_PROGRESS when the round ends: it goes on watching.
    recorded.add(cfn, "describe_stacks", stack("CREATE_IN_PROGRESS"), StackName=STACK_ID)
    recorded.add(
        cfn, "describe_stack_events", {"StackEvents": rolled_back + creating}, StackName=STACK_ID
    )
    recorded.add(cfn, "describe_stacks", stack("ROLLBACK_COMPLETE"), StackName=STACK_ID)
    recorded.add_polls(fixture, service)
    lines: list[str] = []

    result = watch_stack(
        recorded.clients,
        "HangarApp-dev",
        since=SINCE,
        thresholds=Thresholds(poll_interval=0),
        on_line=lines.append,
    )

    assert result.status == "ROLLBACK_COMPLETE"
    assert result.action is not None
    assert "cannot be cancelled" in result.action
    assert "circuit breaker" in result.action
    assert "delete-stack" not in " ".join(lines)
    assert result.diagnosis is not None
    assert result.diagnosis.hint == IMAGE_NOT_FOUND_HINT
    assert [f.status for f in result.failures] == ["CREATE_FAILED"]
    assert any("ROLLBACK_COMPLETE AWS::CloudFormation::Stack" in line for line in lines)


def test_crash_diagnosis_survives_a_log_group_it_may_not_read(recorded: Recorded) -> None:
    fixture = load("essential_container_exit")
    recorded.add_polls(fixture, fixture["service_arn"])
    recorded.add("ecs", "describe_task_definition", fixture["describe_task_definition"])
    recorded.stubbers["logs"].add_client_error(
        "get_log_events",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: logs:GetLogEvents",
        http_status_code=400,
    )
    probe = probe_for(recorded, fixture)

    probe.poll()
    diagnosis = probe.diagnose()

    assert diagnosis is not None
    assert diagnosis.cause == "essential container web exited (exit code 1)"
    assert "/hangar/dev/web" in diagnosis.hint
    assert "logs:GetLogEvents" in diagnosis.evidence[0]
