"""Who may read and write a stage's release records, and who may assume the read-only role."""

import pytest

from hangar.aws import github_oidc
from hangar.aws.permissions import ApiCall, IamRequest, evaluate, iam_requests

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

ACCOUNT, REGION = "123456789012", "us-east-1"


def decisions(policy: dict, calls: list[ApiCall]) -> list[bool]:
    requests = [r for c in calls for r in iam_requests(c, account=ACCOUNT, region=REGION)]
    return [
        d.allowed
        for d in evaluate(
            {"hangar": policy},
            requests,
            principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/somebody/session",
            account=ACCOUNT,
        )
    ]


def release_calls(stage: str) -> list[ApiCall]:
    path = f"/hangar/{stage}/releases"
    return [
        ApiCall("ssm", "GetParametersByPath", {"Path": path}),
        ApiCall("ssm", "PutParameter", {"Name": f"{path}/20261206T120000Z-{'a' * 40}"}),
    ]


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_the_deploy_role_reads_and_writes_its_own_stages_releases_only(stage: str) -> None:
    policy = github_oidc.deploy_permissions(ACCOUNT, REGION, stage)
    assert decisions(policy, release_calls(stage)) == [True, True]
    assert decisions(policy, release_calls("dev")) == [False, False]


def test_the_read_only_role_reads_releases_and_writes_nothing() -> None:
    policy = github_oidc.readonly_permissions(ACCOUNT, REGION, "staging")
    assert decisions(policy, release_calls("staging")) == [True, False]
    logs = ApiCall("logs", "FilterLogEvents", {"logGroupName": "/hangar/staging/app"})
    other_logs = ApiCall("logs", "FilterLogEvents", {"logGroupName": "/hangar/prod/app"})
    assert decisions(policy, [logs, other_logs]) == [True, False]
    # The deploy role has no business reading the app's logs wholesale.
    assert decisions(github_oidc.deploy_permissions(ACCOUNT, REGION, "staging"), [logs]) == [False]


def test_developers_assume_the_read_only_role_with_mfa_or_as_the_named_principal() -> None:
    (statement,) = github_oidc.readonly_trust(ACCOUNT)["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    named = f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Developers_0123456789abcdef"
    (statement,) = github_oidc.readonly_trust(ACCOUNT, named)["Statement"]
    assert statement["Principal"] == {"AWS": named}
    assert "Condition" not in statement


def test_the_read_only_role_lives_outside_the_stages_own_names() -> None:
    # The stage's stacks may create and pass roles named hangar-<stage>-…
    assert not github_oidc.readonly_role_name("staging").startswith("hangar-staging-")


@pytest.mark.parametrize(("mfa", "allowed"), [("true", True), ("false", False)])
def test_the_simulator_lets_a_developer_in_only_with_mfa(mfa: str, allowed: bool) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/{github_oidc.readonly_role_name('staging')}"
    may_assume = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
    }
    (decision,) = evaluate(
        {"developer": may_assume},
        [IamRequest("sts:AssumeRole", role, (("aws:MultiFactorAuthPresent", mfa),))],
        principal=f"arn:aws:iam::{ACCOUNT}:user/alice",
        account=ACCOUNT,
        resource_policy=github_oidc.readonly_trust(ACCOUNT),
    )
    assert decision.allowed is allowed, decision
