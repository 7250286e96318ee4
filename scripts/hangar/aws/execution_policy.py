"""The CloudFormation execution policy: what CloudFormation may do when it deploys Hangar's stacks.

`cdk bootstrap` gives the execution role AdministratorAccess unless told otherwise. Hangar's is
generated from the resource types the synthesized stacks of every stage use: each type's service
gets its actions, IAM only on the stacks' own roles (CloudFormation names them after the stack,
`<service>-<stage>-…`) and on service-linked roles, plus what the types' handlers call in other
services (hangar.aws.provider_schemas). The generated document is committed
(infra/cfn-execution-policy.json) so that a change shows up in review; an infra test regenerates it
and fails when the stacks use a type it does not cover, another checks that it grants every
permission the types' handlers need. `hangar bootstrap-aws` installs it once per stage, with the
stage's guardrails added (hangar.aws.stage_guardrails): what CloudFormation may never do there,
whatever this document grants.
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hangar.aws import provider_schemas
from hangar.aws.permissions import resource_scoped
from hangar.core.aws_clients import DEFAULT_REGION
from hangar.core.console import info
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import INFRA_DIR

POLICY_FILE = INFRA_DIR / "cfn-execution-policy.json"
# CloudFormation namespace (AWS::<Namespace>::Type) → the IAM service prefix of its actions.
# A type whose namespace is missing is an error: someone decides what CloudFormation may do with it.
IAM_PREFIX_OF_NAMESPACE = {
    "ApplicationAutoScaling": "application-autoscaling",
    "CloudWatch": "cloudwatch",
    "EC2": "ec2",
    "ECR": "ecr",
    "ECS": "ecs",
    "ElasticLoadBalancingV2": "elasticloadbalancing",
    "IAM": "iam",
    "KMS": "kms",
    "Lambda": "lambda",
    "Logs": "logs",
    "RDS": "rds",
    "S3": "s3",
    "Scheduler": "scheduler",
    "SecretsManager": "secretsmanager",
    "SNS": "sns",
    "SQS": "sqs",
    "SSM": "ssm",
    "WAFv2": "wafv2",
}
# Types that are no AWS resource (CDK's metadata) or are served by a Lambda CloudFormation invokes.
NO_SERVICE = {"AWS::CDK::Metadata"}
CUSTOM_RESOURCE_PREFIX = "lambda"


def resource_types(templates: Iterable[Path]) -> set[str]:
    types: set[str] = set()
    for template in templates:
        types.update(
            resource["Type"]
            for resource in json.loads(template.read_text()).get("Resources", {}).values()
        )
    return types


def service_prefixes(types: Iterable[str]) -> set[str]:
    prefixes = set()
    for kind in types:
        if kind in NO_SERVICE:
            continue
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            prefixes.add(CUSTOM_RESOURCE_PREFIX)
            continue
        namespace = kind.split("::")[1] if kind.startswith("AWS::") else ""
        if namespace not in IAM_PREFIX_OF_NAMESPACE:
            raise HangarError(
                f"the stacks use {kind}, which the CloudFormation execution policy does not cover",
                hint="add its namespace to hangar.aws.execution_policy.IAM_PREFIX_OF_NAMESPACE, "
                "then `make cfn-execution-policy` and `make bootstrap-aws`",
            )
        prefixes.add(IAM_PREFIX_OF_NAMESPACE[namespace])
    return prefixes


def execution_policy(types: Iterable[str]) -> dict[str, Any]:
    types = set(types)
    prefixes = service_prefixes(types)
    needed = provider_schemas.handler_permissions(types, DEFAULT_REGION)
    # What a handler calls in a service none of the types belongs to (a flow log's reads tags).
    beyond = sorted(a for a in needed if a.split(":", 1)[0] not in prefixes | {"iam"})
    statements: list[dict[str, Any]] = [
        {
            "Sid": "StackResourceTypes",
            "Effect": "Allow",
            "Action": sorted(f"{prefix}:*" for prefix in prefixes - {"iam"}) + beyond,
            "Resource": "*",
        }
    ]
    # IAM actions with no resource to scope them to (the database's handler lists roles).
    unscoped = sorted(a for a in needed if a.startswith("iam:") and not resource_scoped(a))
    if unscoped:
        statements.append(
            {"Sid": "IamWithoutResource", "Effect": "Allow", "Action": unscoped, "Resource": "*"}
        )
    if "iam" in prefixes:
        statements += [
            {
                # Roles and policies the stacks create are named after them; no other identity.
                "Sid": "StackRoles",
                "Effect": "Allow",
                "Action": "iam:*",
                "Resource": [
                    f"arn:aws:iam::*:role/{stack_prefix()}*",
                    f"arn:aws:iam::*:policy/{stack_prefix()}*",
                ],
            },
            {
                "Sid": "ServiceLinkedRoles",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "arn:aws:iam::*:role/aws-service-role/*",
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def stack_prefix() -> str:
    """What the name of every stack of every stage (and of the roles CloudFormation names after
    them) starts with: the service name."""
    return f"{contract().service_name}-"


def policy_name(stage: str) -> str:
    """Each stage's own (its guardrails name the stage), outside the stage's own IAM names."""
    return f"{contract().service_name}-cfn-execution-{stage}"


# The committed file names the stacks' prefix by this placeholder: the policy is the platform's,
# the same for whichever service [tool.hangar] names, which committed_policy() puts in its place.
SERVICE_PLACEHOLDER = "<service-name>-"


def render(policy: dict[str, Any]) -> str:
    """The file's text: `policy` with the service's prefix as the placeholder."""
    text = json.dumps(policy, indent=2)
    return text.replace(f"/{stack_prefix()}", f"/{SERVICE_PLACEHOLDER}") + "\n"


def committed_policy() -> dict[str, Any]:
    """The committed policy, for this checkout's service."""
    if not POLICY_FILE.exists():
        raise HangarError(
            f"{POLICY_FILE.relative_to(INFRA_DIR.parent)} is missing",
            hint="run `make cfn-execution-policy`",
        )
    text = POLICY_FILE.read_text().replace(f"/{SERVICE_PLACEHOLDER}", f"/{stack_prefix()}")
    document: dict[str, Any] = json.loads(text)
    return document


def ensure_managed_policy(iam: Any, account: str, name: str, document: dict[str, Any]) -> str:
    """Create the managed policy `name`, or make `document` its default version; returns its ARN."""
    arn = f"arn:aws:iam::{account}:policy/{name}"
    body = json.dumps(document)
    try:
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    except iam.exceptions.NoSuchEntityException:
        iam.create_policy(
            PolicyName=name,
            PolicyDocument=body,
            Description="What CloudFormation may do deploying a stage's stacks (generated)",
        )
        info(f"CloudFormation execution policy: {arn} (created)")
        return arn
    # IAM keeps at most five versions: drop the oldest non-default one first.
    old = sorted((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
    if len(versions) >= 5 and old:
        iam.delete_policy_version(PolicyArn=arn, VersionId=old[0]["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=body, SetAsDefault=True)
    info(f"CloudFormation execution policy: {arn} (updated)")
    return arn
