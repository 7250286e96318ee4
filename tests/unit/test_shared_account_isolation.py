"""In one AWS account holding staging and production, staging's deploy cannot reach production.

Staging's GitHub deploy role may assume only staging's CDK bootstrap roles, and staging's CDK deploy
role (from the template `hangar bootstrap-aws` installs: the pinned CDK CLI's own, scoped by
hangar.cdk.bootstrap_template) may not change or delete production's stacks. Evaluated with the same
IAM simulator as the deploy role's calls (hangar.aws.permissions); the same check rejects the setup
every stage shared before: one qualifier and the stock template.
"""

import copy
from typing import Any

import pytest

from hangar.aws import github_oidc
from hangar.aws.permissions import IamRequest, evaluate
from hangar.cdk import bootstrap_template
from hangar.core.errors import HangarError

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

ACCOUNT, REGION = "123456789012", "us-east-1"
# What CloudFormation checks when the CDK CLI (or anyone holding the role) changes a stack.
STACK_CHANGES = (
    "cloudformation:CreateChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DeleteStack",
    "cloudformation:UpdateTerminationProtection",
)
BOOTSTRAP_ROLES = ("deploy-role", "file-publishing-role", "lookup-role", "cfn-exec-role")
STAGING_GITHUB = f"arn:aws:sts::{ACCOUNT}:assumed-role/hangar-github-deploy-staging/GitHubActions"
STAGING_CDK_DEPLOY = f"arn:aws:sts::{ACCOUNT}:assumed-role/staging-cdk-deploy-role/cdk-cli"


@pytest.fixture(scope="module")
def stock() -> dict[str, Any]:
    return bootstrap_template.stock_template()


def stack_arns(stage: str) -> list[str]:
    return [
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/hangar-{stage}-{kind}/5a6b7c80-1d2e"
        for kind in ("registry", "service")
    ]


def bootstrap_role(qualifier: str, purpose: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/cdk-{qualifier}-{purpose}-{ACCOUNT}-{REGION}"


def allowed(policy: dict[str, Any], requests: list[IamRequest], principal: str) -> list[str]:
    decisions = evaluate({"p": policy}, requests, principal=principal, account=ACCOUNT)
    return [str(d.request) for d in decisions if d.allowed]


def reaches_production(
    github_policy: dict[str, Any], deploy_role_policy: dict[str, Any], production_qualifier: str
) -> list[str]:
    """Every way staging's deploy could change production that IAM would allow."""
    assumptions = [
        IamRequest("sts:AssumeRole", bootstrap_role(production_qualifier, purpose))
        for purpose in BOOTSTRAP_ROLES
    ]
    changes = [
        IamRequest(action, stack) for action in STACK_CHANGES for stack in stack_arns("prod")
    ]
    return allowed(github_policy, assumptions, STAGING_GITHUB) + allowed(
        deploy_role_policy, changes, STAGING_CDK_DEPLOY
    )


def staging_deploy_role_policy(template: dict[str, Any]) -> dict[str, Any]:
    return bootstrap_template.deploy_role_stack_policy(
        template,
        account=ACCOUNT,
        region=REGION,
        qualifier=bootstrap_template.stage_qualifier("staging"),
    )


def test_the_cdk_default_qualifier_is_the_one_the_pinned_cli_uses(stock: dict[str, Any]) -> None:
    default = stock["Parameters"]["Qualifier"]["Default"]
    assert default == bootstrap_template.CDK_DEFAULT_QUALIFIER
    assert bootstrap_template.toolkit_stack_name(default) == "CDKToolkit"


def test_a_stage_without_a_qualifier_is_a_clear_error() -> None:
    with pytest.raises(HangarError, match="no CDK bootstrap qualifier"):
        bootstrap_template.stage_qualifier("qa")


def test_each_stage_that_may_share_an_account_has_a_bootstrap_of_its_own() -> None:
    staging = bootstrap_template.stage_qualifier("staging")
    prod = bootstrap_template.stage_qualifier("prod")

    assert staging != prod
    assert bootstrap_template.toolkit_stack_name(staging) != (
        bootstrap_template.toolkit_stack_name(prod)
    )


def test_staging_cannot_reach_production_in_a_shared_account(stock: dict[str, Any]) -> None:
    github_policy = github_oidc.deploy_permissions(ACCOUNT, REGION, "staging")
    deploy_role = staging_deploy_role_policy(bootstrap_template.scoped_template(stock, "staging"))

    breaches = reaches_production(
        github_policy, deploy_role, bootstrap_template.stage_qualifier("prod")
    )

    assert not breaches, "staging's deploy could change production:\n" + "\n".join(breaches)


def test_staging_still_deploys_its_own_stacks(stock: dict[str, Any]) -> None:
    github_policy = github_oidc.deploy_permissions(ACCOUNT, REGION, "staging")
    deploy_role = staging_deploy_role_policy(bootstrap_template.scoped_template(stock, "staging"))
    qualifier = bootstrap_template.stage_qualifier("staging")

    assumed = allowed(
        github_policy,
        [IamRequest("sts:AssumeRole", bootstrap_role(qualifier, "deploy-role"))],
        STAGING_GITHUB,
    )
    changes = [
        IamRequest(action, stack) for action in STACK_CHANGES for stack in stack_arns("staging")
    ]

    assert len(assumed) == 1
    assert len(allowed(deploy_role, changes, STAGING_CDK_DEPLOY)) == len(changes)


def test_the_check_rejects_one_shared_bootstrap_with_the_stock_template(
    stock: dict[str, Any],
) -> None:
    """Before: both stages deployed through the default qualifier's stock bootstrap."""
    shared = bootstrap_template.stage_qualifier("local")  # the CDK's default qualifier
    # Staging's role as it was: allowed the default qualifier's roles, as `local`'s role still is.
    github_policy = github_oidc.deploy_permissions(ACCOUNT, REGION, "local")
    deploy_role = staging_deploy_role_policy(stock)

    breaches = reaches_production(github_policy, deploy_role, shared)

    assert any(b.startswith("sts:AssumeRole on") and "deploy-role" in b for b in breaches)
    assert {f"{action} on {stack}" for action in STACK_CHANGES for stack in stack_arns("prod")} <= (
        set(breaches)
    )


def test_only_the_deploy_and_lookup_roles_change_and_the_boundary_is_added(
    stock: dict[str, Any],
) -> None:
    scoped = bootstrap_template.scoped_template(stock, "staging")
    role = bootstrap_template.DEPLOY_ROLE
    changed = {role, bootstrap_template.LOOKUP_ROLE, bootstrap_template.STAGE_BOUNDARY}

    assert set(scoped["Resources"]) - set(stock["Resources"]) == {bootstrap_template.STAGE_BOUNDARY}
    assert {k: v for k, v in scoped["Resources"].items() if k not in changed} == {
        k: v for k, v in stock["Resources"].items() if k not in changed
    }
    lookup = scoped["Resources"][bootstrap_template.LOOKUP_ROLE]["Properties"]
    assert "ManagedPolicyArns" not in lookup  # no ReadOnlyAccess: it reads the stage's stacks
    statements = scoped["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    everywhere = [s for s in statements if s.get("Resource") == "*"]
    assert everywhere, "the role's other statements keep their resources"
    assert not [
        action for s in everywhere for action in s["Action"] if action.startswith("cloudformation:")
    ]
    # sts:GetCallerIdentity shared a statement with DeleteStack: it keeps "*".
    assert any("sts:GetCallerIdentity" in s["Action"] for s in everywhere)


def test_a_template_whose_deploy_role_it_cannot_scope_is_refused(stock: dict[str, Any]) -> None:
    without = bootstrap_template.scoped_template(stock, "staging")  # nothing left on "*"

    with pytest.raises(HangarError, match="cannot scope"):
        bootstrap_template.scoped_template(without, "staging")
    with pytest.raises(HangarError, match="cannot scope"):
        bootstrap_template.scoped_template({"Resources": {}}, "staging")
    lookup_without_read_only = copy.deepcopy(stock)
    del lookup_without_read_only["Resources"]["LookupRole"]["Properties"]["ManagedPolicyArns"]
    with pytest.raises(HangarError, match="no LookupRole with ReadOnlyAccess"):
        bootstrap_template.scoped_template(lookup_without_read_only, "staging")


def test_a_deploy_role_policy_it_cannot_resolve_is_refused(stock: dict[str, Any]) -> None:
    scoped = bootstrap_template.scoped_template(stock, "staging")
    role = scoped["Resources"][bootstrap_template.DEPLOY_ROLE]["Properties"]
    role["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"] = {
        "Fn::GetAtt": ["Other", "Arn"]
    }

    with pytest.raises(HangarError, match="cannot resolve"):
        staging_deploy_role_policy(scoped)
    role["ManagedPolicyArns"].append("arn:aws:iam::aws:policy/AdministratorAccess")
    with pytest.raises(HangarError, match="managed policy"):
        staging_deploy_role_policy(scoped)
