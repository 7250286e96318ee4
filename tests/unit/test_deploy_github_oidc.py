"""`hangar bootstrap-aws` policies: who may assume the deploy roles, and what they may do."""

import pytest

from hangar.aws import github_oidc
from hangar.cdk import bootstrap_template
from hangar.cdk.bootstrap_template import stage_qualifier
from hangar.cli import build_parser
from hangar.core.errors import HangarError
from hangar.provision import github_environments

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

PROVIDER = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
ACCOUNT, REGION = "111122223333", "eu-west-1"


def statements(policy: dict) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_trust_is_scoped_to_one_repository_environment_and_the_sts_audience() -> None:
    subject = github_oidc.environment_subject("repo:acme/hangar", "production")
    assert subject == "repo:acme/hangar:environment:production"
    (statement,) = github_oidc.trust_policy(PROVIDER, subject)["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    # StringEquals, not StringLike: no wildcard may widen the subject to other repos or branches.
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/hangar:environment:production",
        }
    }


def test_each_github_environment_gets_its_own_role_for_its_own_stage() -> None:
    by_environment = {e.name: e for e in github_environments.load().environments}
    assert by_environment["staging"].stage == "staging"
    assert by_environment["production"].stage == "prod"
    assert github_oidc.role_name("production") == "hangar-github-deploy-production"


def test_the_diff_role_trusts_pull_requests_only() -> None:
    assert github_oidc.pull_request_subject("repo:acme/hangar") == "repo:acme/hangar:pull_request"
    assert github_oidc.pull_request_subject("repo:acme@1/hangar@2") == (
        "repo:acme@1/hangar@2:pull_request"
    )


def test_every_cloud_stage_is_bootstrapped_by_default_dev_included() -> None:
    """Before, only the stages of GitHub environments were: `make deploy STAGE=dev` had no
    bootstrap to deploy through."""
    assert github_oidc.selected_stages(None) == ["dev", "staging", "prod"]
    assert github_oidc.selected_stages(["dev"]) == ["dev"]
    args = build_parser().parse_args(["bootstrap-aws", "--stage", "dev", "--stage", "prod"])
    assert github_oidc.selected_stages(args.stage) == ["dev", "prod"]


def test_dev_has_a_bootstrap_of_its_own_not_the_accounts_default() -> None:
    """bootstrap-aws must not take over the account's default `CDKToolkit` (another CDK app's)."""
    qualifiers = [stage_qualifier(stage) for stage in github_oidc.selected_stages(None)]
    assert len(set(qualifiers)) == len(qualifiers)
    assert bootstrap_template.CDK_DEFAULT_QUALIFIER not in qualifiers


def test_deploy_permissions_reach_only_the_stages_own_resources() -> None:
    granted = statements(github_oidc.deploy_permissions(ACCOUNT, REGION, "prod"))
    # Only production's own CDK bootstrap (tests/unit/test_shared_account_isolation.py).
    qualifier = stage_qualifier("prod")
    assert granted["UseCdkBootstrapRoles"]["Resource"] == [
        f"arn:aws:iam::{ACCOUNT}:role/cdk-{qualifier}-deploy-role-{ACCOUNT}-{REGION}",
        f"arn:aws:iam::{ACCOUNT}:role/cdk-{qualifier}-file-publishing-role-{ACCOUNT}-{REGION}",
        f"arn:aws:iam::{ACCOUNT}:role/cdk-{qualifier}-lookup-role-{ACCOUNT}-{REGION}",
    ]
    assert granted["PushStageImages"]["Resource"] == (
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/hangar-prod"
    )
    assert granted["WatchStageStacks"]["Resource"].endswith(":stack/hangar-prod-*/*")
    assert granted["PassStageTaskRoles"]["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/hangar-prod-*"
    assert granted["PassStageTaskRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    # Only the actions IAM cannot scope to a resource are granted on "*" (ListTasks by condition).
    unscoped = {sid for sid, s in granted.items() if s["Resource"] == "*"}
    assert unscoped == {"EcrLogin", "MigrationTaskDefinition", "ListStageTasks", "ReadTargetHealth"}
    assert granted["ListStageTasks"]["Condition"] == {
        "ArnLike": {"ecs:cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/hangar-prod-*"}
    }
    for statement in granted.values():
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all(not action.endswith("*") for action in actions)
        assert not any(
            action.startswith(("iam:Create", "iam:Put", "iam:Attach")) for action in actions
        )


def test_diff_permissions_are_read_only() -> None:
    granted = statements(github_oidc.diff_permissions(ACCOUNT, REGION, "staging"))
    actions = {
        action
        for statement in granted.values()
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert actions == {
        "sts:AssumeRole",
        "cloudformation:DescribeStacks",
        "cloudformation:GetTemplate",
        "ssm:GetParameter",
    }
    assert granted["UseCdkLookupRole"]["Resource"].endswith(
        f"cdk-{stage_qualifier('staging')}-lookup-role-{ACCOUNT}-{REGION}"
    )


@pytest.mark.parametrize(
    "value", ["acme", "acme/hangar/extra", "https://github.com/acme/hangar", ""]
)
def test_a_repository_that_is_not_owner_slash_name_is_refused(value: str) -> None:
    with pytest.raises(HangarError, match="is not owner/name"):
        github_oidc.parse_repository(value)


def test_owner_slash_name_is_accepted() -> None:
    assert github_oidc.parse_repository("acme-corp/hangar.app") == "acme-corp/hangar.app"


def test_bootstrap_local_honours_hangar_localstack_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    monkeypatch.setenv("HANGAR_LOCALSTACK_PORT", "4613")
    endpoints = []

    def no_account(service: str, *, region: str, endpoint: str | None = None) -> None:
        endpoints.append(endpoint)
        raise HangarError("stop after the first client")

    monkeypatch.setattr(github_oidc, "aws_client", no_account)
    args = build_parser().parse_args(
        [
            "bootstrap-aws",
            "--github-repo",
            "acme/hangar",
            "--oidc-subject-prefix",
            "repo:acme/hangar",
            "--local",
        ]
    )
    with pytest.raises(HangarError, match="stop after the first client"):
        args.func(args)
    assert endpoints == ["http://127.0.0.1:4613"]
