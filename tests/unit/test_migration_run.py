"""The migration task runs in the network the stack gives it, and one that hangs is stopped.

ECS does not run here (the free LocalStack has none): ECS is a botocore Stubber, which checks every
request against the real service model, and the expected parameters pin what is sent.
"""

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from hangar.core.errors import HangarError
from hangar.deploy import stage_migrations, stage_target

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

TASK = "arn:aws:ecs:us-east-1:123456789012:task/hangar-dev-service-Cluster-1/0a1b2c3d"


def outputs(assign_public_ip: str, subnets: str) -> dict[str, str]:
    """What the service stack outputs per stage (tests/infra/test_migration_network.py)."""
    return {
        "ClusterName": "hangar-dev-service-Cluster-1",
        "MigrationTaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/m:1",
        "MigrationSubnetIds": subnets,
        "MigrationSecurityGroupId": "sg-0123",
        "MigrationAssignPublicIp": assign_public_ip,
    }


def stub_run(
    stubber: Stubber, network: dict[str, Any], final_status: str, *, stopped: bool
) -> None:
    stubber.add_response(
        "describe_task_definition",
        {"taskDefinition": {"family": "m", "containerDefinitions": [{"name": "app"}]}},
    )
    stubber.add_response(
        "register_task_definition", {"taskDefinition": {"taskDefinitionArn": "m:2"}}
    )
    stubber.add_response(
        "run_task",
        {"tasks": [{"taskArn": TASK}], "failures": []},
        {
            "cluster": ANY,
            "taskDefinition": "m:2",
            "launchType": "FARGATE",
            "count": 1,
            "networkConfiguration": network,
            "startedBy": "hangar-deploy",
        },
    )
    stubber.add_response(
        "describe_tasks", {"tasks": [{"taskArn": TASK, "lastStatus": final_status}]}
    )
    if stopped:
        stubber.add_response(
            "stop_task", {"task": {"taskArn": TASK}}, {"cluster": ANY, "task": TASK, "reason": ANY}
        )
    else:
        stubber.add_response(
            "describe_tasks",
            {"tasks": [{"taskArn": TASK, "containers": [{"name": "app", "exitCode": 0}]}]},
        )
    stubber.add_response("deregister_task_definition", {"taskDefinition": {}})


@pytest.fixture
def ecs(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client(
        "ecs", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    monkeypatch.setattr(stage_target, "aws_client", lambda service, **_: client)
    return client


def target(stage: str) -> stage_target.Target:
    return stage_target.Target(stage=stage, image_tag="abc1234", region="us-east-1", endpoint=None)


@pytest.mark.parametrize(
    ("stage", "assign_public_ip", "subnets"),
    [
        # dev has no NAT: its tasks pull the image and read secrets through a public IP.
        ("dev", "ENABLED", "subnet-public-a,subnet-public-b"),
        ("staging", "DISABLED", "subnet-app-a,subnet-app-b"),
        ("prod", "DISABLED", "subnet-app-a,subnet-app-b"),
    ],
)
def test_the_migration_task_runs_in_the_stacks_subnets_with_its_public_ip_setting(
    ecs: Any, stage: str, assign_public_ip: str, subnets: str
) -> None:
    network = {
        "awsvpcConfiguration": {
            "subnets": subnets.split(","),
            "securityGroups": ["sg-0123"],
            "assignPublicIp": assign_public_ip,
        }
    }
    with Stubber(ecs) as stubber:
        stub_run(stubber, network, "STOPPED", stopped=False)
        stage_migrations.run_migrations(
            target(stage), outputs(assign_public_ip, subnets), "repo:abc1234"
        )
        stubber.assert_no_pending_responses()


def test_a_migration_that_does_not_finish_in_time_is_stopped_and_reported(ecs: Any) -> None:
    network = stage_migrations.migration_network(outputs("DISABLED", "subnet-app-a"))
    with Stubber(ecs) as stubber:
        stub_run(stubber, network, "RUNNING", stopped=True)
        with pytest.raises(HangarError, match=r"did not finish within .* has been stopped"):
            stage_migrations.run_migrations(
                target("staging"),
                outputs("DISABLED", "subnet-app-a"),
                "repo:abc1234",
                timeout_seconds=1,
                poll_seconds=1,
            )
        stubber.assert_no_pending_responses()


def test_an_unknown_public_ip_setting_is_refused() -> None:
    with pytest.raises(HangarError, match="MigrationAssignPublicIp output is 'yes'"):
        stage_migrations.migration_network(outputs("yes", "subnet-a"))
