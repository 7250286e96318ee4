"""The watcher's words: progress lines, the root cause among CloudFormation's failures, hints."""

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hangar.deploy.ecs_diagnosis import (
    HEALTH_CHECK_TIMEOUT_HINT,
    SECRETS_HINT,
    ContainerExit,
    StoppedTask,
    TargetHealth,
    classify,
    cluster_of,
)
from hangar.deploy.watcher import (
    AwsClients,
    ResourceFailure,
    Thresholds,
    WatchResult,
    format_event,
    is_terminal,
    watching,
)


def event(status: str, reason: str = "") -> dict[str, object]:
    return {
        "Timestamp": datetime(2026, 3, 2, 12, 3, 4, tzinfo=UTC),
        "ResourceStatus": status,
        "ResourceType": "AWS::SQS::Queue",
        "LogicalResourceId": "TasksQueue",
        "ResourceStatusReason": reason,
    }


def test_progress_line_shows_time_status_type_id_and_duration() -> None:
    line = format_event(event("CREATE_COMPLETE"), duration=3.24)
    clock = datetime(2026, 3, 2, 12, 3, 4, tzinfo=UTC).astimezone().strftime("%H:%M:%S")
    assert line == f"{clock} CREATE_COMPLETE AWS::SQS::Queue TasksQueue (3.2s)"


def test_failure_line_carries_the_reason_and_success_line_does_not() -> None:
    assert format_event(event("CREATE_FAILED", "bad attribute")).endswith(
        "TasksQueue: bad attribute"
    )
    assert not format_event(event("CREATE_IN_PROGRESS", "Resource creation Initiated")).endswith(
        "Initiated"
    )


def test_root_cause_skips_resources_cancelled_because_of_another() -> None:
    result = WatchResult(
        "HangarApp-dev",
        failures=[
            ResourceFailure(
                "Bucket", "AWS::S3::Bucket", "CREATE_FAILED", "Resource creation cancelled"
            ),
            ResourceFailure("Param", "AWS::SSM::Parameter", "CREATE_FAILED", "Value '' at 'value'"),
        ],
    )
    assert result.root_cause is not None
    assert result.root_cause.logical_id == "Param"
    assert not result.succeeded


def test_a_watch_that_saw_no_operation_succeeds() -> None:
    assert WatchResult("HangarApp-dev").succeeded  # e.g. cdk found no changes


@pytest.mark.parametrize(
    ("status", "terminal"),
    [("CREATE_IN_PROGRESS", False), ("REVIEW_IN_PROGRESS", False), ("ROLLBACK_COMPLETE", True)],
)
def test_terminal_statuses(status: str, terminal: bool) -> None:
    assert is_terminal(status) is terminal


def test_health_check_timeout_points_at_security_groups_and_port() -> None:
    unhealthy = TargetHealth("10.0.2.37:8000", "unhealthy", "Target.Timeout", "Request timed out")
    diagnosis = classify([], [unhealthy])
    assert diagnosis is not None
    assert diagnosis.hint == HEALTH_CHECK_TIMEOUT_HINT


def test_secrets_that_cannot_be_read_are_named() -> None:
    reason = (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
        "retrieval failed: unable to retrieve secret from asm: AccessDeniedException"
    )
    task = StoppedTask(
        "abc", "arn:td", reason, "TaskFailedToStart", (ContainerExit("web", None, None),)
    )
    diagnosis = classify([task], [])
    assert diagnosis is not None
    assert diagnosis.hint == SECRETS_HINT


def test_health_check_error_other_than_400_is_not_blamed_on_allowed_hosts() -> None:
    unhealthy = TargetHealth(
        "10.0.2.37:8000",
        "unhealthy",
        "Target.ResponseCodeMismatch",
        "Health checks failed with these codes: [500]",
    )
    diagnosis = classify([], [unhealthy])
    assert diagnosis is not None
    assert "ALLOWED_HOSTS" not in diagnosis.hint
    assert "/healthz" in diagnosis.hint


def test_nothing_failed_yet_means_no_diagnosis() -> None:
    assert (
        classify([], [TargetHealth("10.0.2.37:8000", "initial", "Elb.InitialHealthChecking", "")])
        is None
    )


def test_cluster_comes_from_the_long_service_arn_format() -> None:
    assert (
        cluster_of("arn:aws:ecs:us-east-1:123456789012:service/hangar-dev/hangar-web")
        == "hangar-dev"
    )
    with pytest.raises(ValueError, match="without a cluster"):
        cluster_of("arn:aws:ecs:us-east-1:123456789012:service/hangar-web")


class BusyCloudFormation:
    """Stands in for a CloudFormation endpoint that a deploy keeps busy (LocalStack on a loaded
    machine): after the first answer, each describe_stack_events waits until `gate` opens."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls = 0
        self.waiting = threading.Event()  # a call is waiting at the gate
        self.answered_late = threading.Event()  # a call passed the gate

    def describe_stack_events(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls > 1:
            self.waiting.set()
            self.gate.wait(timeout=30)
            self.answered_late.set()
        queue_event = {
            **event("CREATE_IN_PROGRESS"),
            "Timestamp": datetime.now(UTC),
            "EventId": f"event-{self.calls}",
            "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/orders/1",
            "PhysicalResourceId": "",
        }
        return {"StackEvents": [queue_event]}


@pytest.mark.parametrize("interrupted", [True, False], ids=["Ctrl-C", "deploy ended"])
def test_ctrl_c_leaves_a_watcher_that_waits_on_a_busy_endpoint_behind(interrupted: bool) -> None:
    """Interrupted, the watch ends while its watcher still waits for an answer, and prints nothing
    after; a deploy that ended waits for the watcher's last poll, whose events it shows."""
    cloudformation = BusyCloudFormation()
    clients = AwsClients(cloudformation, ecs=None, elbv2=None, logs=None)
    lines: list[str] = []
    since = datetime.now(UTC) - timedelta(minutes=1)
    thresholds = Thresholds(poll_interval=0.01)
    watch = watching(clients, ["orders"], since=since, thresholds=thresholds, on_line=lines.append)
    with contextlib.suppress(KeyboardInterrupt), watch:
        assert cloudformation.waiting.wait(timeout=30), "the watcher never polled again"
        if interrupted:
            raise KeyboardInterrupt
        threading.Timer(0.5, cloudformation.gate.set).start()
    left_with = list(lines)
    assert cloudformation.answered_late.is_set() is not interrupted

    cloudformation.gate.set()
    for thread in threading.enumerate():
        if thread.name == "watch-orders":
            thread.join(timeout=30)
    # Interrupted: the first poll's event only. Ended: the late answer's and a last poll's too.
    assert len(left_with) == 1 if interrupted else len(left_with) >= 3, left_with
    assert lines == left_with, "the watcher printed after the watch ended"
