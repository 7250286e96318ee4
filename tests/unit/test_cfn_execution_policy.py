"""CloudFormation's execution role gets the generated policy (infra/cfn-execution-policy.json), not
AdministratorAccess: evaluated with the same IAM simulator as the deploy roles."""

import pytest

from hangar.aws.execution_policy import committed_policy, execution_policy, service_prefixes
from hangar.aws.permissions import IamRequest, evaluate
from hangar.core.errors import HangarError

ACCOUNT = "123456789012"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-us-east-1"


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
