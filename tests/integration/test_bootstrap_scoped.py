"""`hangar bootstrap-aws` against LocalStack's IAM: the generated CloudFormation execution policy
is installed (and updated in place), and an account that holds one stage gets only its role."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hangar.aws import execution_policy, github_oidc
from hangar.aws.stage_guardrails import stage_execution_policy
from hangar.core.aws_clients import aws_client
from hangar.provision import github_environments

pytestmark = pytest.mark.integration

ACCOUNT, REGION = "000000000000", "us-east-1"
POLICY_NAME = execution_policy.policy_name("staging")
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/{POLICY_NAME}"
ENVIRONMENTS = github_environments.load().environments


@pytest.fixture
def iam(localstack_endpoint: str) -> Iterator[Any]:
    client = aws_client("iam", region=REGION, endpoint=localstack_endpoint)
    yield client
    for name in [github_oidc.role_name(e.name) for e in ENVIRONMENTS] + [
        github_oidc.diff_role_name()
    ]:
        try:
            client.delete_role_policy(RoleName=name, PolicyName="hangar")
            client.delete_role(RoleName=name)
        except client.exceptions.NoSuchEntityException:
            pass
    try:
        for version in client.list_policy_versions(PolicyArn=POLICY_ARN)["Versions"]:
            if not version["IsDefaultVersion"]:
                client.delete_policy_version(PolicyArn=POLICY_ARN, VersionId=version["VersionId"])
        client.delete_policy(PolicyArn=POLICY_ARN)
    except client.exceptions.NoSuchEntityException:
        pass


def default_document(iam: Any) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=POLICY_ARN)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=POLICY_ARN, VersionId=version)["PolicyVersion"][
        "Document"
    ]
    return json.loads(document) if isinstance(document, str) else document


def test_the_execution_policy_is_created_then_updated_in_place(iam: Any) -> None:
    first = execution_policy.execution_policy({"AWS::SQS::Queue"})
    second = stage_execution_policy(
        execution_policy.committed_policy(), account=ACCOUNT, region=REGION, stage="staging"
    )

    assert execution_policy.ensure_managed_policy(iam, ACCOUNT, POLICY_NAME, first) == POLICY_ARN
    assert default_document(iam) == first
    for _ in range(5):  # more updates than IAM keeps versions: the oldest ones make room
        ensured = execution_policy.ensure_managed_policy(iam, ACCOUNT, POLICY_NAME, second)
        assert ensured == POLICY_ARN

    assert default_document(iam) == second
    assert len(iam.list_policy_versions(PolicyArn=POLICY_ARN)["Versions"]) <= 5


def test_an_account_of_its_own_for_production_gets_only_productions_role(iam: Any) -> None:
    roles = github_oidc.ensure_github_roles(
        iam,
        account=ACCOUNT,
        region=REGION,
        subject_prefix="repo:acme/hangar",
        environments=tuple(e for e in ENVIRONMENTS if e.stage == "prod"),
    )

    assert set(roles) == {"production"}  # no staging role, no cdk-diff of staging
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="hangar-github-deploy-staging")
