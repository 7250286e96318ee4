"""`hangar status` on one screen, and what its calls that only real AWS serves (ECS) need from IAM.

ECS does not run here (the free LocalStack has none): the service calls are driven through a
botocore Stubber (a fake, for what only real AWS serves), recorded as sent, and evaluated with the
IAM simulator against the read-only role's policy (hangar.aws.github_oidc.readonly_permissions).
The calls LocalStack serves are recorded there:
tests/integration/test_deploy_permissions_recorded.py.
"""

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from hangar.aws import github_oidc
from hangar.aws.permissions import ApiCall, evaluate, unique_requests
from hangar.cli import main
from hangar.core.errors import HangarError
from hangar.deploy import status
from hangar.deploy.releases import Release
from hangar.deploy.stage_access import StageAccess

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

ACCOUNT, REGION, STAGE = "123456789012", "us-east-1", "staging"
STACK = f"hangar-{STAGE}-service"
CLUSTER = f"{STACK}-ClusterEB0386A7-Q1w2E3r4T5y6"
ECS_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
WEB = f"{STACK}-WebService1A2B3C-Zx9"
TASKS = [f"{ECS_ARN}:task/{CLUSTER}/{n}e1f0c2b9a3d4e5f8a6b1c2d3e4f5a6b" for n in "12"]
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64
RELEASE = Release("f" * 40, NEW, "20261206T120000Z", "octocat (GitHub Actions)", "https://x/runs/1")


class StubbedAccess(StageAccess):
    clients: dict[str, Any]

    def client(self, service: str) -> Any:
        return self.clients[service]


def recorded_ecs(calls: list[ApiCall]) -> tuple[Any, Stubber]:
    ecs = boto3.Session(
        region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    ).client("ecs")

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append(ApiCall("ecs", model.name, dict(params)))

    ecs.meta.events.register("before-parameter-build.*.*", record)
    stubber = Stubber(ecs)
    deployments = [
        {"status": "PRIMARY", "rolloutState": "IN_PROGRESS"},
        {"status": "ACTIVE", "rolloutState": "COMPLETED"},
    ]
    service = {"desiredCount": 2, "runningCount": 2, "pendingCount": 1, "deployments": deployments}
    stubber.add_response("describe_services", {"services": [service]})
    stubber.add_response("list_tasks", {"taskArns": TASKS})
    tasks = [
        {"taskArn": TASKS[0], "healthStatus": "HEALTHY", "containers": [{"imageDigest": NEW}]},
        {"taskArn": TASKS[1], "healthStatus": "UNHEALTHY", "containers": [{"imageDigest": OLD}]},
    ]
    stubber.add_response("describe_tasks", {"tasks": tasks})
    stubber.activate()
    return ecs, stubber


def test_each_service_row_says_counts_rollout_images_with_their_sha_and_health() -> None:
    calls: list[ApiCall] = []
    ecs, stubber = recorded_ecs(calls)
    access = StubbedAccess(STAGE, REGION, None)
    access.clients = {"ecs": ecs}  # type: ignore[misc]

    rows = status.service_rows(access, {"ClusterName": CLUSTER, "WebServiceName": WEB})
    stubber.assert_no_pending_responses()
    stack = {"StackName": STACK, "StackStatus": "UPDATE_IN_PROGRESS"}
    alarm = {
        "AlarmName": f"hangar-{STAGE}-web-5xx",
        "StateUpdatedTimestamp": datetime(2026, 12, 6, 12, 5, tzinfo=UTC),
        "StateReason": "Threshold Crossed",
    }
    screen = status.render(stack, rows, [alarm], [RELEASE])

    assert "Stack hangar-staging-service: UPDATE_IN_PROGRESS" in screen
    assert "Last deploy: 2026-12-06 12:00:00 UTC, ffffffffffff" in screen
    web = next(line for line in screen.splitlines() if line.startswith("web "))
    assert web.split()[1:5] == ["2", "2", "1", "IN_PROGRESS"]
    assert "sha256:111111111111 = no recorded release" in web
    assert "sha256:222222222222 = ffffffffffff" in web
    assert web.endswith("1 HEALTHY, 1 UNHEALTHY")
    assert "Alarms in ALARM: 1\n  hangar-staging-web-5xx since 2026-12-06 12:05 UTC" in screen

    # Each ECS call it made is one the stage's read-only role may make, and another stage's may not.
    requests = list(unique_requests(calls, account=ACCOUNT, region=REGION))
    assert {r.action for r in requests} == {
        "ecs:DescribeServices",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
    }
    for stage, allowed in ((STAGE, True), ("prod", False)):
        policy = github_oidc.readonly_permissions(ACCOUNT, REGION, stage)
        decisions = evaluate(
            {"hangar": policy},
            requests,
            principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/hangar-readonly-{stage}/dev",
            account=ACCOUNT,
        )
        assert [d.allowed for d in decisions] == [allowed] * len(requests), decisions


def test_without_ecs_the_local_stage_says_so_instead_of_rows() -> None:
    access = StageAccess("local", REGION, "http://127.0.0.1:4566")
    rows = status.service_rows(access, {"ClusterName": "unknown", "WebServiceName": "unknown"})
    assert rows == status.NOT_EMULATED
    screen = status.render({"StackName": "s", "StackStatus": "CREATE_COMPLETE"}, rows, [], [])
    assert "Services: ECS not emulated by LocalStack" in screen
    assert "Last deploy: no release recorded" in screen
    assert "Alarms in ALARM: none" in screen


def test_a_denied_call_is_one_line_naming_the_read_only_role(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def denied(self: StageAccess) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "DescribeStacks"
        )

    monkeypatch.setattr("hangar.deploy.stage_access.caller_region", lambda environ: REGION)
    monkeypatch.setattr(status, "service_stack", denied)

    assert main(["status", "--stage", STAGE]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: AWS denied the call: ")
    assert "hangar-readonly-<stage>" in err
    assert "Traceback" not in err


def test_a_service_ecs_does_not_know_is_one_line_not_a_traceback() -> None:
    ecs = boto3.Session(
        region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    ).client("ecs")
    stubber = Stubber(ecs)
    missing = [{"arn": f"{ECS_ARN}:service/{CLUSTER}/{WEB}", "reason": "MISSING"}]
    stubber.add_response("describe_services", {"services": [], "failures": missing})
    stubber.activate()
    access = StubbedAccess(STAGE, REGION, None)
    access.clients = {"ecs": ecs}  # type: ignore[misc]

    with pytest.raises(HangarError, match=f"ECS has no service {WEB} in cluster {CLUSTER}"):
        status.service_rows(access, {"ClusterName": CLUSTER, "WebServiceName": WEB})


def test_each_declared_queues_worker_is_a_service_row(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from hangar.core.contract import Queue

    queues = (
        Queue("jobs", "JOBS_QUEUE_URL", worker_command=("python", "manage.py", "run_jobs")),
        Queue("audit", "AUDIT_QUEUE_URL"),  # no worker, no row
        Queue("emails", "EMAIL_QUEUE_URL", worker_command=("python", "manage.py", "mail")),
    )
    app = replace(status.contract(), queues=queues)
    monkeypatch.setattr(status, "contract", lambda: app)
    assert status.service_outputs() == {
        "web": "WebServiceName",
        "jobs-worker": "JobsWorkerServiceName",
        "emails-worker": "EmailsWorkerServiceName",
    }
