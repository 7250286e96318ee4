"""In one shared account, nothing that acts for a stage can act beyond it (hangar.aws.escalation).

Every principal of a stage — its GitHub roles, its bootstrap's deploy and lookup roles, the
CloudFormation execution role with the stage's execution policy, and any role its stacks create,
granted AdministratorAccess and held back only by the stage's boundary — is evaluated with the IAM
simulator against what must stay out of its reach. The same check finds the paths the setup had
before: the execution policy without guardrails, roles without a boundary, the stock lookup role.
"""

from typing import Any

import pytest

from hangar.aws import escalation, github_oidc
from hangar.aws.escalation import ADMINISTRATOR, Principal
from hangar.aws.execution_policy import committed_policy
from hangar.aws.permissions import IamRequest, evaluate
from hangar.cdk import bootstrap_template
from hangar.provision import github_environments

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

ACCOUNT, REGION = "123456789012", "us-east-1"
ENVIRONMENTS = github_environments.load().environments


def github_roles() -> list[str]:
    return [github_oidc.role_name(e.name) for e in ENVIRONMENTS] + [github_oidc.diff_role_name()]


@pytest.fixture(scope="module")
def stock() -> dict[str, Any]:
    return bootstrap_template.stock_template()


def principals(template: dict[str, Any], stage: str) -> list[Principal]:
    return github_oidc.stage_principals(
        template, ENVIRONMENTS, account=ACCOUNT, region=REGION, stage=stage
    )


def paths(found: list[Principal], stage: str) -> list[str]:
    return escalation.escalations(
        found, account=ACCOUNT, region=REGION, stage=stage, github_roles=github_roles()
    )


def named(found: list[Principal], prefix: str) -> Principal:
    return next(p for p in found if p.name.startswith(prefix))


def test_no_principal_of_any_stage_reaches_beyond_it() -> None:
    """What `bootstrap-aws` checks before it installs anything (it raises, naming each path)."""
    declaration = github_environments.load()

    github_oidc.refuse_escalations(
        declaration, ["dev", "staging", "prod"], account=ACCOUNT, region=REGION
    )


def test_the_execution_policy_without_guardrails_was_admin(stock: dict[str, Any]) -> None:
    """Before: one execution policy for every stage, iam:* on every `hangar-*` role."""
    execution_role = named(
        principals(bootstrap_template.scoped_template(stock, "staging"), "staging"),
        "execution role",
    )
    before = Principal(
        execution_role.name, execution_role.arn, {"hangar-cfn-execution": committed_policy()}
    )

    found = set(paths([before], "staging"))

    production_github_role = f"arn:aws:iam::{ACCOUNT}:role/hangar-github-deploy-production"
    prod_task_role = f"arn:aws:iam::{ACCOUNT}:role/{escalation.stack_role('prod')}"
    staging_role = f"arn:aws:iam::{ACCOUNT}:role/{escalation.stack_role('staging')}"
    for expected in (
        f"iam:AttachRolePolicy on {production_github_role}",  # rewrite production's GitHub role
        f"iam:PutRolePolicy on {prod_task_role}",
        f"iam:PassRole on {prod_task_role} [iam:PassedToService=lambda.amazonaws.com]",
        f"iam:CreateRole on {staging_role}",  # a role without any boundary
        f"iam:CreatePolicyVersion on arn:aws:iam::{ACCOUNT}:policy/hangar-cfn-execution-prod",
        "secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:123456789012:secret:"
        "DatabaseCredentials8547B3E7-PjXlGH [aws:ResourceTag/aws:cloudformation:stack-name="
        "hangar-prod-service]",  # a dynamic reference to production's secret
    ):
        assert f"{execution_role.name} may {expected}" in found


def test_a_role_of_the_stacks_without_the_boundary_is_admin(stock: dict[str, Any]) -> None:
    unbounded = Principal(
        "a task role without boundary",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/x/y",
        {"admin": ADMINISTRATOR},
    )

    found = paths([unbounded], "staging")

    assert any(
        "iam:AttachRolePolicy on" in p and "hangar-github-deploy-production" in p for p in found
    )
    assert any("sts:AssumeRole on" in p and "cdk-hangarprd-deploy-role" in p for p in found)
    assert any("s3:GetObject on arn:aws:s3:::hangar-prod-service-" in p for p in found)


def test_a_github_role_that_may_pass_any_service_role_is_caught(stock: dict[str, Any]) -> None:
    policy = github_oidc.deploy_permissions(ACCOUNT, REGION, "staging")
    passing = next(s for s in policy["Statement"] if s["Sid"] == "PassStageTaskRoles")
    passing["Resource"] = f"arn:aws:iam::{ACCOUNT}:role/hangar-*"  # the prefix without the stage
    role = Principal(
        "a GitHub role", f"arn:aws:sts::{ACCOUNT}:assumed-role/g/GitHubActions", {"p": policy}
    )

    found = paths([role], "staging")

    assert any(
        "iam:PassRole on" in p and "hangar-prod-service" in p and "ecs-tasks" in p for p in found
    )


def test_the_stock_lookup_role_let_pull_requests_read_every_object(stock: dict[str, Any]) -> None:
    """The PR diff role assumes staging's lookup role; the stock one holds ReadOnlyAccess."""
    lookup = named(principals(stock, "staging"), "bootstrap role cdk-hangarstg-lookup-role")

    found = paths([lookup], "staging")

    assert any("s3:GetObject on arn:aws:s3:::hangar-prod-service-" in p for p in found)


def allowed(principal: Principal, requests: list[IamRequest]) -> list[str]:
    decisions = evaluate(
        principal.policies,
        requests,
        principal=principal.arn,
        account=ACCOUNT,
        boundaries=principal.boundaries or None,
    )
    return [f"{d.decision}: {d.request} {d.detail}" for d in decisions if not d.allowed]


def test_the_guardrails_leave_the_stage_what_its_deploy_needs(stock: dict[str, Any]) -> None:
    found = principals(bootstrap_template.scoped_template(stock, "staging"), "staging")
    own_role = f"arn:aws:iam::{ACCOUNT}:role/{escalation.stack_role('staging')}"
    boundary = bootstrap_template.boundary_arn(ACCOUNT, REGION, "staging")
    own_secret = (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:DatabaseCredentials8547B3E7-QqRrSs",
        ((escalation.STACK_TAG, "hangar-staging-service"),),
    )
    own_bucket = "arn:aws:s3:::hangar-staging-service-uploadsbucket9ec9deb9-abcdefgh"

    refused = (
        allowed(
            named(found, "execution role"),
            [
                IamRequest("iam:CreateRole", own_role, (("iam:PermissionsBoundary", boundary),)),
                IamRequest("iam:PutRolePolicy", own_role),
                IamRequest("iam:AttachRolePolicy", own_role),
                IamRequest(
                    "iam:PassRole", own_role, (("iam:PassedToService", "ecs-tasks.amazonaws.com"),)
                ),
                IamRequest("iam:DeleteRole", own_role),
                IamRequest(
                    "iam:CreateServiceLinkedRole",
                    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
                ),
                IamRequest("secretsmanager:CreateSecret", own_secret[0]),
                IamRequest("s3:PutBucketPolicy", own_bucket),
            ],
        )
        + allowed(
            named(found, "any role of staging's stacks"),
            [
                IamRequest("secretsmanager:GetSecretValue", *own_secret),
                IamRequest("s3:GetObject", f"{own_bucket}/uploads/report.pdf"),
                IamRequest(
                    "sqs:SendMessage",
                    f"arn:aws:sqs:{REGION}:{ACCOUNT}:hangar-staging-service-TasksQueue-AbC",
                    ((escalation.STACK_TAG, "hangar-staging-service"),),
                ),
            ],
        )
        + allowed(
            named(found, "bootstrap role cdk-hangarstg-lookup-role"),
            [
                IamRequest(
                    "cloudformation:GetTemplate",
                    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/hangar-staging-service/5a6b7c80",
                ),
                IamRequest(
                    "ssm:GetParameter",
                    f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/cdk-bootstrap/hangarstg/version",
                ),
            ],
        )
    )

    assert refused == []


def test_stages_whose_names_overlap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    qualifiers = {"prod": "hangarprd", "prod-eu": "hangarpeu"}
    monkeypatch.setattr(bootstrap_template, "stage_qualifiers", lambda: qualifiers)

    with pytest.raises(bootstrap_template.HangarError, match="start like those of stage"):
        bootstrap_template.other_stages_stacks("prod-eu")
