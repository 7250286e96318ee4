"""The watcher's words: progress lines, the root cause among CloudFormation's failures, hints."""

from datetime import UTC, datetime

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
from hangar.deploy.watcher import ResourceFailure, WatchResult, format_event, is_terminal


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
