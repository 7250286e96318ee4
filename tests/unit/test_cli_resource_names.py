"""Every AWS name the CLI works with derives from the contract's service name (`[tool.hangar]`).

The declaring project (tests/declared_project.py, service `hangar`) is served as another service,
`notes`: the names the CLI deploys, grants and looks up must all follow, and none may still say
`hangar`.
"""

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from declared_project import declaring_everything, pinning

from hangar.aws import execution_policy, github_oidc
from hangar.aws.stage_guardrails import stage_execution_policy
from hangar.cdk.bootstrap_template import stage_boundary, stage_stacks
from hangar.core.contract import Contract
from hangar.deploy import image
from hangar.deploy.stage_target import Target

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def notes() -> Iterator[None]:
    with pinning(replace(declaring_everything(), service_name="notes")):
        yield


def names_hangar(document: object) -> bool:
    text = json.dumps(document)
    return "hangar-" in text or "/hangar/" in text


def test_the_deploy_roles_grants_follow_the_service_name(notes: None) -> None:
    deploy = github_oidc.deploy_permissions(ACCOUNT, REGION, "staging")
    diff = github_oidc.diff_permissions(ACCOUNT, REGION, "staging")
    assert not names_hangar(deploy)
    assert not names_hangar(diff)
    resources = json.dumps(deploy)
    assert "repository/notes-staging" in resources
    assert "log-group:/notes/staging/*" in resources
    assert "stack/notes-staging-*/*" in json.dumps(diff)


def test_the_roles_and_the_execution_policy_are_named_after_the_service(notes: None) -> None:
    assert github_oidc.role_name("production") == "notes-github-deploy-production"
    assert github_oidc.diff_role_name() == "notes-github-cdk-diff"
    assert execution_policy.policy_name("prod") == "notes-cfn-execution-prod"
    policy = stage_execution_policy(
        execution_policy.execution_policy(["AWS::IAM::Role", "AWS::S3::Bucket"]),
        account=ACCOUNT,
        region=REGION,
        stage="staging",
    )
    assert not names_hangar(policy)
    assert "arn:aws:iam::*:role/notes-*" in json.dumps(policy)
    assert f"arn:aws:iam::{ACCOUNT}:role/notes-staging-*" in json.dumps(policy)
    assert "notes-prod-*" in json.dumps(stage_boundary("staging"))
    assert not names_hangar(stage_boundary("staging"))
    assert stage_stacks("prod").endswith(":stack/notes-prod-*")


def test_deploy_selects_and_reads_the_services_stacks(notes: None) -> None:
    target = Target(stage="dev", image_tag="t", region=REGION, endpoint=None)
    assert target.stack_name("Registry") == "notes-dev-registry"
    assert target.stack_name("Service") == "notes-dev-service"
    assert target.stack_path("Service") == "notes-dev/Service"
    assert image.Registry.local("local").repository.endswith("/notes-local")


def test_unrenamed_the_names_are_hangars(declared_contract: Contract) -> None:
    # The check above can fail: without the rename every one of them says hangar.
    assert names_hangar(github_oidc.deploy_permissions(ACCOUNT, REGION, "staging"))
    assert github_oidc.diff_role_name() == "hangar-github-cdk-diff"


def test_the_day_two_names_follow_the_service_name(notes: None) -> None:
    from hangar.deploy import releases

    readonly = github_oidc.readonly_permissions(ACCOUNT, REGION, "staging")
    assert not names_hangar(readonly)
    assert "parameter/notes/staging/releases" in json.dumps(readonly)
    assert github_oidc.readonly_role_name("prod") == "notes-readonly-prod"
    assert releases.releases_path("dev") == "/notes/dev/releases"


def test_the_committed_execution_policy_serves_whichever_service_the_contract_names(
    notes: None,
) -> None:
    """infra/cfn-execution-policy.json is the platform's: `bootstrap-aws` installs it for the
    checkout's service, so a project moving in does not regenerate it."""
    policy = json.dumps(execution_policy.committed_policy())
    assert "arn:aws:iam::*:role/notes-*" in policy
    assert not names_hangar(execution_policy.committed_policy())
    assert execution_policy.render(execution_policy.committed_policy()) == (
        execution_policy.POLICY_FILE.read_text()
    )
