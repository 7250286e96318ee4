"""What a stage's CloudFormation may never do, whatever the execution policy grants it.

The execution policy (infra/cfn-execution-policy.json, hangar.aws.execution_policy) says what
CloudFormation needs to build the stacks' resource types. It is the same for every stage, and it
must be generous: CloudFormation creates roles, attaches policies to them and passes them to ECS and
Lambda. Unchecked, that is admin: a template could attach AdministratorAccess to a role it creates
and hand it to a function, rewrite another stage's roles (or the GitHub deploy roles, or this very
policy), or read another stage's secrets through a dynamic reference. `hangar bootstrap-aws`
therefore installs one execution policy per stage, made of that document plus these Deny
statements, bound to the stage's own names:

- IAM only on the stage's own roles and policies (and service-linked roles): nothing of another
  stage, of the bootstrap (cdk-*), of the GitHub deploy roles, no users, no execution policy;
- no role without the stage's permissions boundary (hangar.cdk.bootstrap_template), and no
  boundary removed: a role that holds AdministratorAccess still cannot leave its stage;
- nothing on resources another stage's stacks created (tagged with their stack), or their buckets.

Separate accounts per stage remain the recommended boundary; these make a shared account hold too.
tests/unit/test_privilege_escalation.py evaluates them with the IAM simulator.
"""

from typing import Any

from hangar.cdk.bootstrap_template import boundary_arn, other_stages_resources, other_stages_stacks
from hangar.core.contract import contract


def stage_execution_policy(
    base: dict[str, Any], *, account: str, region: str, stage: str
) -> dict[str, Any]:
    """`base` (the committed execution policy) with the stage's guardrails."""
    return {
        "Version": "2012-10-17",
        "Statement": [*base["Statement"], *guardrails(account=account, region=region, stage=stage)],
    }


def guardrails(*, account: str, region: str, stage: str) -> list[dict[str, Any]]:
    own = contract().resource_prefix(stage)
    return [
        {
            "Sid": "NoIdentitiesOutsideTheStage",
            "Effect": "Deny",
            "Action": "iam:*",
            "NotResource": [
                f"arn:aws:iam::{account}:role/{own}-*",
                f"arn:aws:iam::{account}:policy/{own}-*",
                f"arn:aws:iam::{account}:role/aws-service-role/*",
            ],
        },
        {
            "Sid": "NoRoleWithoutTheStageBoundary",
            "Effect": "Deny",
            "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"iam:PermissionsBoundary": boundary_arn(account, region, stage)}
            },
        },
        {
            "Sid": "NoBoundaryRemoval",
            "Effect": "Deny",
            "Action": "iam:DeleteRolePermissionsBoundary",
            "Resource": "*",
        },
        *other_stages_resources(other_stages_stacks(stage)),
    ]
