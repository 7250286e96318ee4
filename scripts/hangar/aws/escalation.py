"""The privilege-escalation check: can anything that acts for one stage act beyond it?

In one shared account, each stage's principals are: its GitHub deploy role (and, for staging, the
pull requests' diff role), its CDK bootstrap's deploy and lookup roles, CloudFormation's execution
role with the stage's execution policy, and every role its stacks create — assumed to hold
AdministratorAccess, since a template may grant it, and held back only by the stage's permissions
boundary. None of them may, on another stage's or the bootstrap's identities, attach or put a
policy, change a trust or a boundary, pass or assume the role; create a role without the stage's
boundary, or a user; rewrite an execution policy or a boundary; or reach another stage's secrets,
keys, queues and buckets. `escalations` lists every such request IAM would allow, evaluated with
the same simulator as the deploy roles' calls (hangar.aws.permissions).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hangar.aws.execution_policy import policy_name
from hangar.aws.permissions import IamRequest, evaluate
from hangar.cdk.bootstrap_template import boundary_arn, stage_qualifier, stage_qualifiers
from hangar.core.contract import contract
from hangar.core.errors import HangarError

# What an AWS managed policy on a bootstrap role grants, as far as these requests go: AWS's own
# documents are long and change; these are the parts of them that reach the requests below.
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AWSCloudFormationReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "cloudformation:Describe*",
                    "cloudformation:Get*",
                    "cloudformation:List*",
                ],
                "Resource": "*",
            }
        ],
    },
    "ReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:Get*", "iam:List*", "s3:Get*", "s3:List*"],
                "Resource": "*",
            }
        ],
    },
}
ADMINISTRATOR = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
BOOTSTRAP_ROLES = (
    "deploy-role",
    "file-publishing-role",
    "image-publishing-role",
    "lookup-role",
    "cfn-exec-role",
)
ROLE_CHANGES = (
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
)
POLICY_CHANGES = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy")
STACK_TAG = "aws:ResourceTag/aws:cloudformation:stack-name"


@dataclass(frozen=True)
class Principal:
    name: str  # what the report calls it
    arn: str
    policies: Mapping[str, Mapping[str, Any]]
    boundaries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def managed_policy(arn: str) -> dict[str, Any]:
    name = arn.rsplit("/", 1)[-1]
    if not arn.startswith("arn:aws:iam::aws:policy/") or name not in MANAGED_POLICIES:
        raise HangarError(
            f"a bootstrap role has the managed policy {arn}, unknown to the escalation check",
            hint="add what it grants to hangar.aws.escalation.MANAGED_POLICIES",
        )
    return MANAGED_POLICIES[name]


def escalations(
    principals: Iterable[Principal],
    *,
    account: str,
    region: str,
    stage: str,
    github_roles: list[str],
) -> list[str]:
    """Every forbidden request some principal of `stage` would be allowed (`github_roles`: the
    names of the account's GitHub roles)."""
    requests = forbidden_requests(
        account=account, region=region, stage=stage, github_roles=github_roles
    )
    found = []
    for principal in principals:
        decisions = evaluate(
            principal.policies,
            requests,
            principal=principal.arn,
            account=account,
            boundaries=principal.boundaries or None,
        )
        found += [
            f"{principal.name} may {d.request}"
            for d in decisions
            if d.decision != "ImplicitlyDenied" and d.decision != "ExplicitlyDenied"
        ]
    return found


def forbidden_requests(
    *, account: str, region: str, stage: str, github_roles: list[str]
) -> list[IamRequest]:
    others = [s for s in stage_qualifiers() if s != stage]
    not_the_stages = [
        *(f"arn:aws:iam::{account}:role/{stack_role(s)}" for s in others),
        *(f"arn:aws:iam::{account}:role/{name}" for name in github_roles),
        *(
            bootstrap_role(account, region, s, purpose)
            for s in stage_qualifiers()
            for purpose in BOOTSTRAP_ROLES
        ),
    ]
    policies = [
        *(f"arn:aws:iam::{account}:policy/{policy_name(s)}" for s in stage_qualifiers()),
        *(boundary_arn(account, region, s) for s in stage_qualifiers()),
    ]
    own_role = f"arn:aws:iam::{account}:role/{stack_role(stage)}"
    return [
        *(IamRequest(action, role) for role in not_the_stages for action in ROLE_CHANGES),
        *(
            IamRequest("iam:PassRole", role, (("iam:PassedToService", service),))
            for role in not_the_stages
            for service in ("lambda.amazonaws.com", "ecs-tasks.amazonaws.com")
        ),
        *(
            IamRequest("sts:AssumeRole", role)
            for role in not_the_stages
            if f"cdk-{stage_qualifier(stage)}-" not in role
        ),
        *(IamRequest(action, policy) for policy in policies for action in POLICY_CHANGES),
        # A role of the stage that would not be held back by its boundary.
        IamRequest("iam:CreateRole", own_role),
        *(
            IamRequest(
                "iam:CreateRole",
                own_role,
                (("iam:PermissionsBoundary", boundary_arn(account, region, s)),),
            )
            for s in others
        ),
        IamRequest("iam:DeleteRolePermissionsBoundary", own_role),
        *(
            IamRequest(action, f"arn:aws:iam::{account}:user/intruder")
            for action in ("iam:CreateUser", "iam:CreateAccessKey", "iam:AttachUserPolicy")
        ),
        *(request for s in others for request in other_stage_data(account, region, s)),
    ]


def other_stage_data(account: str, region: str, stage: str) -> list[IamRequest]:
    """Reads and policy changes of what another stage's stacks created (as CloudFormation names
    and tags it)."""
    stack = f"{contract().resource_prefix(stage)}-service"
    tagged = ((STACK_TAG, stack),)
    in_account = (("s3:ResourceAccount", account),)
    secret = f"arn:aws:secretsmanager:{region}:{account}:secret:DatabaseCredentials8547B3E7-PjXlGH"
    bucket = f"arn:aws:s3:::{stack}-uploadsbucket9ec9deb9-1x2y3z4w5v6u"
    return [
        IamRequest("secretsmanager:GetSecretValue", secret, tagged),
        IamRequest("secretsmanager:PutResourcePolicy", secret, tagged),
        IamRequest(
            "kms:Decrypt",
            f"arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            tagged,
        ),
        IamRequest(
            "sqs:ReceiveMessage", f"arn:aws:sqs:{region}:{account}:{stack}-TasksQueue-AbC", tagged
        ),
        # S3 names the bucket owner's account in every request; the stock deploy role's
        # cross-account statement depends on it.
        IamRequest("s3:GetObject", f"{bucket}/uploads/report.pdf", in_account),
        IamRequest("s3:PutBucketPolicy", bucket, in_account),
    ]


def stack_role(stage: str) -> str:
    """A role name as CloudFormation generates it in the stage's service stack."""
    return f"{contract().resource_prefix(stage)}-service-AppTaskRole7EC51C11-AbCdEf12"


def bootstrap_role(account: str, region: str, stage: str, purpose: str) -> str:
    return f"arn:aws:iam::{account}:role/cdk-{stage_qualifier(stage)}-{purpose}-{account}-{region}"
