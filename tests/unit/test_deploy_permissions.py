"""The deploy role may make every call the deploy's AWS-only paths make; the evaluator says no when
it should.

ECS and ELBv2 do not run here (the free LocalStack has neither), so the migration run and the
watcher's diagnosis and stop decisions are driven through botocore Stubbers (a fake, for what only
real AWS serves), with realistic stage names. A botocore hook records every call as sent, and the
calls are evaluated with @cloud-copilot/iam-simulate against the policy `hangar.aws.github_oidc`
builds
for the role. What LocalStack can serve is recorded on LocalStack's side instead:
tests/integration/test_deploy_permissions_recorded.py.
"""

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hangar.aws import github_oidc
from hangar.aws.permissions import ApiCall, Decision, IamRequest, evaluate, unique_requests
from hangar.core.errors import HangarError
from hangar.deploy import stage_migrations, stage_target
from hangar.deploy.ecs_diagnosis import ServiceProbe
from hangar.deploy.watcher import (
    AwsClients,
    StackWatcher,
    Thresholds,
    permission_missing_line,
    watching,
)
from hangar.provision import github_environments

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

ACCOUNT, REGION = "123456789012", "us-east-1"
# The stages a GitHub environment deploys (.github/environments.yml).
DEPLOYED_STAGES = [e.stage for e in github_environments.load().environments]
SINCE = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def stage_names(stage: str) -> dict[str, str]:
    """Names as CloudFormation generates them: physical names start with the stack name."""
    stack = f"hangar-{stage}-service"
    cluster = f"{stack}-ClusterEB0386A7-Q1w2E3r4T5y6"
    ecs = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
    return {
        "stack": stack,
        "stack_id": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/5a6b7c80-1d2e",
        "cluster": cluster,
        "service": f"{ecs}:service/{cluster}/{stack}-WebService1A2B3C-Zx9",
        "task": f"{ecs}:task/{cluster}/7e1f0c2b9a3d4e5f8a6b1c2d3e4f5a6b",
        "task_definition": f"{ecs}:task-definition/{stack.replace('-', '')}Migration0A1B:3",
        "target_group": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web/4f2c9a",
        "task_role": f"arn:aws:iam::{ACCOUNT}:role/{stack}-AppTaskRole1B2C3D-AbC",
        "execution_role": f"arn:aws:iam::{ACCOUNT}:role/{stack}-MigrationExecRole-DeF",
        "log_group": f"/hangar/{stage}/app",
    }


class RecordedClients:
    """Stubbed clients whose every call is also recorded as an ApiCall."""

    def __init__(self) -> None:
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
        )
        self.calls: list[ApiCall] = []
        self.clients = {
            name: session.client(name) for name in ("cloudformation", "ecs", "elbv2", "logs")
        }
        self.stubbers = {name: Stubber(client) for name, client in self.clients.items()}
        for name, client in self.clients.items():
            client.meta.events.register(
                "before-parameter-build.*.*", self._recorder(name), unique_id=f"record-{name}"
            )

    def _recorder(self, service: str) -> Any:
        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.calls.append(ApiCall(service, model.name, dict(params)))

        return record

    def add(self, service: str, method: str, response: dict[str, Any]) -> None:
        self.stubbers[service].add_response(method, response)

    def __enter__(self) -> "RecordedClients":
        for stubber in self.stubbers.values():
            stubber.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()
            stubber.deactivate()


def migration_calls(
    stage: str, monkeypatch: pytest.MonkeyPatch, *, finishes: bool
) -> list[ApiCall]:
    names = stage_names(stage)
    outputs = {
        "ClusterName": names["cluster"],
        "MigrationTaskDefinitionArn": names["task_definition"],
        "MigrationSubnetIds": "subnet-0a1b,subnet-2c3d",
        "MigrationSecurityGroupId": "sg-0123",
        "MigrationAssignPublicIp": "DISABLED",
    }
    with RecordedClients() as recorded:
        ecs = recorded.clients["ecs"]
        monkeypatch.setattr(stage_target, "aws_client", lambda service, **_: ecs)
        recorded.add(
            "ecs",
            "describe_task_definition",
            {
                "taskDefinition": {
                    "family": "migration",
                    "taskRoleArn": names["task_role"],
                    "executionRoleArn": names["execution_role"],
                    "containerDefinitions": [{"name": "app", "image": "old"}],
                }
            },
        )
        recorded.add(
            "ecs", "register_task_definition", {"taskDefinition": {"taskDefinitionArn": "td:4"}}
        )
        recorded.add("ecs", "run_task", {"tasks": [{"taskArn": names["task"]}], "failures": []})
        status = "STOPPED" if finishes else "RUNNING"
        task = {"taskArn": names["task"], "lastStatus": status}
        recorded.add("ecs", "describe_tasks", {"tasks": [task]})
        if finishes:
            recorded.add(
                "ecs",
                "describe_tasks",
                {"tasks": [{**task, "containers": [{"name": "app", "exitCode": 0}]}]},
            )
        else:
            recorded.add("ecs", "stop_task", {"task": task})
        recorded.add("ecs", "deregister_task_definition", {"taskDefinition": {}})
        target = stage_target.Target(stage=stage, image_tag="abc1234", region=REGION, endpoint=None)
        try:
            stage_migrations.run_migrations(target, outputs, "repo:abc1234", timeout_seconds=1)
        except HangarError:
            assert not finishes
    return recorded.calls


def watcher_calls(stage: str) -> list[ApiCall]:
    """A service whose task crashed: the probe reads ECS, the target group and the log; then the
    watcher stops an update and a creation of the stack."""
    names = stage_names(stage)
    with RecordedClients() as recorded:
        recorded.add(
            "ecs",
            "describe_services",
            {
                "services": [
                    {
                        "serviceArn": names["service"],
                        "loadBalancers": [{"targetGroupArn": names["target_group"]}],
                    }
                ]
            },
        )
        recorded.add("ecs", "list_tasks", {"taskArns": [names["task"]]})
        crashed = {
            "taskArn": names["task"],
            "taskDefinitionArn": names["task_definition"],
            "createdAt": SINCE + timedelta(minutes=1),
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "containers": [{"name": "app", "exitCode": 1}],
        }
        recorded.add("ecs", "describe_tasks", {"tasks": [crashed]})
        recorded.add("elbv2", "describe_target_health", {"TargetHealthDescriptions": []})
        log_options = {"awslogs-group": names["log_group"], "awslogs-stream-prefix": "web"}
        recorded.add(
            "ecs",
            "describe_task_definition",
            {
                "taskDefinition": {
                    "containerDefinitions": [
                        {
                            "name": "app",
                            "logConfiguration": {"logDriver": "awslogs", "options": log_options},
                        }
                    ]
                }
            },
        )
        recorded.add("logs", "get_log_events", {"events": []})
        recorded.add("cloudformation", "describe_stack_events", {"StackEvents": []})
        # An update is cancelled; a create is left to roll back (the watcher never deletes).
        for status in ("UPDATE_IN_PROGRESS", "CREATE_IN_PROGRESS"):
            recorded.add(
                "cloudformation",
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": names["stack"],
                            "StackId": names["stack_id"],
                            "CreationTime": SINCE,
                            "StackStatus": status,
                        }
                    ]
                },
            )
            if status == "UPDATE_IN_PROGRESS":
                recorded.add("cloudformation", "cancel_update_stack", {})

        c = recorded.clients
        probe = ServiceProbe(c["ecs"], c["elbv2"], c["logs"], names["service"], SINCE)
        probe.poll()
        assert probe.diagnose() is not None
        watcher = StackWatcher(
            AwsClients(c["cloudformation"], c["ecs"], c["elbv2"], c["logs"]),
            names["stack"],
            since=SINCE,
            thresholds=Thresholds(),
            on_line=lambda _: None,
            gave_up=threading.Event(),
        )
        watcher.root.poll()  # the stack's events, by name before the stack id is known
        watcher.stack_id = names["stack_id"]
        for _ in range(2):
            watcher._stop_operation()
    return recorded.calls


def denied(stage: str, calls: list[ApiCall], policy: dict[str, Any]) -> list[Decision]:
    requests = unique_requests(calls, account=ACCOUNT, region=REGION)
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/hangar-github-deploy-{stage}/GitHubActions"
    decisions = evaluate({"hangar": policy}, list(requests), principal=principal, account=ACCOUNT)
    return [d for d in decisions if not d.allowed]


def describe(decisions: list[Decision]) -> str:
    return "\n".join(f"  {d.decision}: {d.request} {d.detail}".rstrip() for d in decisions)


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_deploy_role_may_make_every_call_of_the_aws_only_paths(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = (
        migration_calls(stage, monkeypatch, finishes=True)
        + migration_calls(stage, monkeypatch, finishes=False)
        + watcher_calls(stage)
    )
    policy = github_oidc.deploy_permissions(ACCOUNT, REGION, stage)

    refused = denied(stage, calls, policy)

    assert not refused, f"the {stage} deploy role would be denied:\n{describe(refused)}"
    # The paths really ran: the migration was stopped on timeout, the watcher read every source.
    operations = {call.operation for call in calls}
    assert {
        "StopTask",
        "DescribeServices",
        "GetLogEvents",
        "CancelUpdateStack",
        "DescribeStackEvents",
    } <= operations


def test_a_stage_role_is_denied_the_other_stages_resources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = migration_calls("prod", monkeypatch, finishes=False) + watcher_calls("prod")
    staging_policy = github_oidc.deploy_permissions(ACCOUNT, REGION, "staging")

    refused = {d.request.action for d in denied("staging", calls, staging_policy)}

    assert {
        "ecs:RunTask",
        "ecs:StopTask",
        "ecs:DescribeServices",
        "cloudformation:CancelUpdateStack",
        "logs:GetLogEvents",
        "iam:PassRole",
    } <= refused


# What skopeo's registry calls cost in IAM when `make deploy` pushes the image and reads it back
# (tag, platform, digest): ECR's documented actions for a push and a pull. Registry traffic is
# not AWS API traffic, so neither LocalStack nor a botocore hook can record it.
REGISTRY_PUSH_AND_READ = (
    "BatchCheckLayerAvailability",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "PutImage",
    "BatchGetImage",
    "GetDownloadUrlForLayer",
)


def registry_calls(stage: str) -> list[ApiCall]:
    login = [ApiCall("ecr", "GetAuthorizationToken", {})]
    repository = {"repositoryName": f"hangar-{stage}"}
    return login + [ApiCall("ecr", op, repository) for op in REGISTRY_PUSH_AND_READ]


@pytest.mark.parametrize("stage", DEPLOYED_STAGES)
def test_the_deploy_role_may_push_and_read_its_stages_image(stage: str) -> None:
    policy = github_oidc.deploy_permissions(ACCOUNT, REGION, stage)

    refused = denied(stage, registry_calls(stage), policy)

    assert not refused, f"the {stage} deploy role could not push:\n{describe(refused)}"


def test_a_stage_role_may_not_push_to_the_other_stages_registry() -> None:
    staging_policy = github_oidc.deploy_permissions(ACCOUNT, REGION, "staging")

    refused = {d.request.action for d in denied("staging", registry_calls("prod"), staging_policy)}

    assert refused == {f"ecr:{op}" for op in REGISTRY_PUSH_AND_READ}


def test_the_evaluator_denies_what_no_statement_allows_and_honours_explicit_deny() -> None:
    stack = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/hangar-prod-service/1"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "cloudformation:Describe*", "Resource": "*"},
            {"Effect": "Deny", "Action": "cloudformation:DescribeStackEvents", "Resource": stack},
        ],
    }
    requests = [
        IamRequest("cloudformation:DescribeStacks", stack),
        IamRequest("cloudformation:DescribeStackEvents", stack),
        IamRequest("cloudformation:DeleteStack", stack),
        IamRequest("cloudformation:NoSuchAction", stack),
    ]

    decisions = evaluate(
        {"p": policy}, requests, principal=f"arn:aws:iam::{ACCOUNT}:role/r", account=ACCOUNT
    )

    assert [d.decision for d in decisions] == [
        "Allowed",
        "ExplicitlyDenied",
        "ImplicitlyDenied",
        "Invalid",
    ]


def test_an_operation_without_an_iam_mapping_is_an_error_not_an_allowance() -> None:
    with pytest.raises(HangarError, match="no IAM mapping for ecs:CreateService"):
        unique_requests([ApiCall("ecs", "CreateService", {})], account=ACCOUNT, region=REGION)


def access_denied(action: str) -> dict[str, Any]:
    return {
        "service_error_code": "AccessDenied",
        "service_message": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/hangar-github-deploy-staging"
        f"/GitHubActions is not authorized to perform: {action} on resource: x",
        "http_status_code": 403,
    }


def test_a_permission_missing_at_run_time_is_said_loudly_once_and_the_deploy_goes_on() -> None:
    names = stage_names("staging")
    lines: list[str] = []
    with RecordedClients() as recorded:
        for _ in range(2):  # two polls: the same denial is reported once
            recorded.stubbers["ecs"].add_client_error(
                "describe_services", **access_denied("ecs:DescribeServices")
            )
        c = recorded.clients
        watcher = StackWatcher(
            AwsClients(c["cloudformation"], c["ecs"], c["elbv2"], c["logs"]),
            names["stack"],
            since=SINCE,
            thresholds=Thresholds(),
            on_line=lines.append,
            gave_up=threading.Event(),
        )
        for service in ("web", "worker"):
            probe = ServiceProbe(
                c["ecs"], c["elbv2"], c["logs"], f"{names['service']}{service}", SINCE
            )
            watcher.probes[probe.service_arn] = (probe, 0.0)

        watcher._probe_services()
        watcher._probe_services()  # nothing left to probe: no second denial, no second line

    loud = [line for line in lines if line.startswith("!! PERMISSION MISSING")]
    assert len(loud) == 1, lines
    assert "ecs:DescribeServices" in loud[0]
    assert "The deploy goes on" in loud[0]
    assert not watcher.probes
    assert not watcher.gave_up.is_set()  # a healthy deploy is never stopped for it


def test_a_stack_the_role_may_not_watch_is_said_loudly_and_the_block_still_runs() -> None:
    names = stage_names("staging")
    with RecordedClients() as recorded:
        recorded.stubbers["cloudformation"].add_client_error(
            "describe_stack_events", **access_denied("cloudformation:DescribeStackEvents")
        )
        c = recorded.clients
        clients = AwsClients(c["cloudformation"], c["ecs"], c["elbv2"], c["logs"])
        lines: list[str] = []
        ran = False
        with watching(clients, [names["stack"]], since=SINCE, on_line=lines.append) as watch:
            ran = True
            for _ in range(100):  # until the watcher thread has met the denial
                if watch.errors:
                    break
                threading.Event().wait(0.05)

    assert ran
    assert [line for line in lines if "PERMISSION MISSING" in line] == [
        permission_missing_line(
            "cloudformation:DescribeStackEvents", f"the deploy of {names['stack']} is not watched"
        )
    ]
