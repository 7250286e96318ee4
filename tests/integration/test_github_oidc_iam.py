"""`hangar bootstrap-aws` against LocalStack's IAM: it creates the provider and the roles, and a
second run converges instead of failing or duplicating anything.

Not covered here: adding the STS audience to an existing provider, because the pinned LocalStack
does not implement AddClientIDToOpenIDConnectProvider."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hangar.aws import github_oidc
from hangar.core.aws_clients import aws_client
from hangar.provision import github_environments

pytestmark = pytest.mark.integration

ACCOUNT, REGION = "000000000000", "us-east-1"
ENVIRONMENTS = github_environments.load().environments
IMMUTABLE = "repo:acme@7654321/Shipyard@1408704749"


@pytest.fixture
def iam(localstack_endpoint: str) -> Iterator[Any]:
    client = aws_client("iam", region=REGION, endpoint=localstack_endpoint)
    yield client
    role_names = [github_oidc.role_name(e.name) for e in ENVIRONMENTS] + [
        github_oidc.diff_role_name()
    ]
    for name in role_names:
        try:
            client.delete_role_policy(RoleName=name, PolicyName="hangar")
            client.delete_role(RoleName=name)
        except client.exceptions.NoSuchEntityException:
            pass
    for provider in client.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        if provider["Arn"].endswith(github_oidc.GITHUB_OIDC_HOST):
            client.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])


def github_providers(iam: Any) -> list[str]:
    providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    return [p["Arn"] for p in providers if p["Arn"].endswith(github_oidc.GITHUB_OIDC_HOST)]


def trust_subject(iam: Any, role_name: str) -> str:
    document = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    if isinstance(document, str):  # IAM returns it URL-decoded JSON or as a parsed mapping
        document = json.loads(document)
    condition = document["Statement"][0]["Condition"]["StringEquals"]
    return str(condition[f"{github_oidc.GITHUB_OIDC_HOST}:sub"])


def test_bootstrap_creates_the_provider_and_one_scoped_role_per_environment(iam: Any) -> None:
    roles = github_oidc.ensure_github_roles(
        iam,
        account=ACCOUNT,
        region=REGION,
        subject_prefix="repo:acme/hangar",
        environments=ENVIRONMENTS,
    )

    (provider,) = github_providers(iam)
    audiences = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider)["ClientIDList"]
    assert audiences == ["sts.amazonaws.com"]
    assert set(roles) == {"staging", "production", "cdk-diff"}
    assert trust_subject(iam, "hangar-github-deploy-staging") == (
        "repo:acme/hangar:environment:staging"
    )
    assert trust_subject(iam, "hangar-github-deploy-production") == (
        "repo:acme/hangar:environment:production"
    )
    assert trust_subject(iam, "hangar-github-cdk-diff") == "repo:acme/hangar:pull_request"
    policy = iam.get_role_policy(RoleName="hangar-github-deploy-production", PolicyName="hangar")
    document = policy["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    assert document == github_oidc.deploy_permissions(ACCOUNT, REGION, "prod")


def test_running_it_again_converges_to_the_immutable_subject(iam: Any) -> None:
    """A repository renamed or transferred after 2026-06-18 moves to the immutable subject: the
    next bootstrap-aws rewrites the trust in place."""
    first = github_oidc.ensure_github_roles(
        iam,
        account=ACCOUNT,
        region=REGION,
        subject_prefix="repo:acme/hangar",
        environments=ENVIRONMENTS,
    )
    second = github_oidc.ensure_github_roles(
        iam, account=ACCOUNT, region=REGION, subject_prefix=IMMUTABLE, environments=ENVIRONMENTS
    )

    assert first == second  # same roles, updated in place
    assert len(github_providers(iam)) == 1
    assert trust_subject(iam, "hangar-github-deploy-staging") == (
        f"{IMMUTABLE}:environment:staging"
    )
    assert trust_subject(iam, "hangar-github-cdk-diff") == f"{IMMUTABLE}:pull_request"
