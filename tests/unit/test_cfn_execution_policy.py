"""CloudFormation's execution role gets the generated policy (infra/cfn-execution-policy.json), not
AdministratorAccess: evaluated with the same IAM simulator as the deploy roles."""

import copy
from typing import Any

import pytest

from hangar.aws.execution_policy import committed_policy, execution_policy, service_prefixes
from hangar.aws.permissions import IamRequest, evaluate
from hangar.aws.provider_schemas import UNUSED_SERVICES, handler_permissions, ungranted
from hangar.core.errors import HangarError

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

ACCOUNT = "123456789012"
REGION = "us-east-1"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-{REGION}"


def decisions(*requests: IamRequest) -> list[str]:
    answers = evaluate(
        {"hangar-cfn-execution": committed_policy()},
        list(requests),
        principal=EXECUTION_ROLE,
        account=ACCOUNT,
    )
    return [answer.decision for answer in answers]


def test_cloudformation_may_build_what_the_stacks_contain() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/hangar-staging-service-AppTaskRole1B2C3D-AbC"
    assert set(
        decisions(
            IamRequest("ec2:CreateVpc", "*"),
            IamRequest("rds:CreateDBInstance", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:hangar-x"),
            IamRequest("ecs:CreateService", "*"),
            IamRequest("iam:CreateRole", role),
            IamRequest("iam:PassRole", role, (("iam:PassedToService", "ecs-tasks.amazonaws.com"),)),
        )
    ) == {"Allowed"}


def test_cloudformation_may_not_create_other_identities_or_touch_other_services() -> None:
    assert set(
        decisions(
            IamRequest("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/break-glass-admin"),
            IamRequest(
                "iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"
            ),
            IamRequest("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/someone"),
            IamRequest("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/someone"),
            IamRequest(
                "dynamodb:DeleteTable", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
            ),
            IamRequest("organizations:LeaveOrganization", "*"),
        )
    ) == {"ImplicitlyDenied"}


def test_a_resource_type_without_a_decision_is_refused() -> None:
    with pytest.raises(HangarError, match="AWS::DynamoDB::Table, which the CloudFormation"):
        execution_policy({"AWS::SQS::Queue", "AWS::DynamoDB::Table"})


def test_custom_resources_need_lambda_and_metadata_needs_nothing() -> None:
    assert service_prefixes({"Custom::S3AutoDeleteObjects", "AWS::CDK::Metadata"}) == {"lambda"}


# Types whose handlers reach beyond their own service: the database's lists roles, the flow log's
# reads Auto Scaling tags, the log group's would deliver to Firehose (a path the stacks never take).
REACHING_TYPES = {"AWS::RDS::DBInstance", "AWS::EC2::FlowLog", "AWS::Logs::LogGroup"}


def ungranted_by(policy: dict[str, Any]) -> list[str]:
    return ungranted(
        policy, REACHING_TYPES, region=REGION, account=ACCOUNT, principal=EXECUTION_ROLE
    )


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    trimmed = copy.deepcopy(policy)
    for statement in trimmed["Statement"]:
        actions = statement["Action"]
        if isinstance(actions, list) and action in actions:
            actions.remove(action)
    trimmed["Statement"] = [s for s in trimmed["Statement"] if s["Action"] not in ([], action)]
    return trimmed


def test_the_policy_grants_what_the_handlers_of_the_types_need() -> None:
    assert ungranted_by(committed_policy()) == []


@pytest.mark.parametrize(
    ("removed", "reported"),
    [
        ("autoscaling:DescribeTags", "autoscaling:DescribeTags (AWS::EC2::FlowLog.create)"),
        (
            "iam:ListRoles",
            "iam:ListRoles (AWS::RDS::DBInstance.create, AWS::RDS::DBInstance.update)",
        ),
        ("rds:*", "rds:CreateDBInstance (AWS::RDS::DBInstance.create)"),
    ],
)
def test_a_permission_a_handler_needs_is_missed_when_it_is_gone(
    removed: str, reported: str
) -> None:
    assert reported in ungranted_by(without(committed_policy(), removed))


def test_handler_paths_the_stacks_never_take_are_left_out_with_their_reason() -> None:
    needed = handler_permissions(REACHING_TYPES, REGION)
    assert "firehose:TagDeliveryStream" not in needed  # log group delivery to Firehose
    assert "logs:CreateLogGroup" in needed
    assert all(UNUSED_SERVICES.values())


def test_a_type_without_a_provider_schema_is_refused() -> None:
    with pytest.raises(HangarError, match=r"no resource provider schema for AWS::Nope::Thing"):
        handler_permissions({"AWS::Nope::Thing"}, REGION)


def test_a_project_declaring_a_schedule_gets_what_its_handlers_need() -> None:
    """[tool.hangar.schedules] adds AWS::Scheduler::Schedule, which the sample's stacks lack:
    `make cfn-execution-policy` in such a project must cover it, not refuse it."""
    types = {"AWS::Scheduler::Schedule", "AWS::IAM::Role"}  # the schedule passes its own role
    missing = ungranted(
        execution_policy(types), types, region=REGION, account=ACCOUNT, principal=EXECUTION_ROLE
    )
    # iam:PassRole is granted on the stacks' own roles only (StackRoles), not on the "*" asked here.
    assert [
        permission for permission in missing if not permission.startswith("iam:PassRole ")
    ] == []
