"""What CloudFormation must be allowed to do for each resource type: the IAM permissions of the
type's handlers, from the resource provider schemas cfn-lint ships (`handlers.create.permissions`
and so on, per region).

A handler lists the permissions of every path it may take, including features Hangar's stacks never
use (a web ACL association lists the actions for API Gateway, AppSync, Cognito…; a log group those
for delivery to Firehose). Those services are left out here, each with the reason; everything else
a handler lists is what the execution policy (hangar.aws.execution_policy) must grant, and
`ungranted()` evaluates that with the IAM simulator.
"""

import fnmatch
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from hangar.aws.permissions import IamRequest, evaluate
from hangar.core.errors import HangarError


def _schemas_dir() -> Path:
    spec = find_spec("cfnlint")  # its data only: importing cfn-lint itself takes half a second
    if spec is None or not spec.submodule_search_locations:
        raise HangarError(
            "cfn-lint, whose resource provider schemas say what each type needs, is not installed",
            hint="run `make setup`",
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "schemas"


# Stack operations call these; `list` serves resource discovery (Cloud Control, the IaC generator).
STACK_HANDLERS = ("create", "read", "update", "delete")
# A custom resource is served by a Lambda function CloudFormation invokes.
CUSTOM_RESOURCE_PERMISSIONS = frozenset({"lambda:InvokeFunction"})
# Types that are no AWS resource: nothing to call.
NO_SERVICE = frozenset({"AWS::CDK::Metadata"})
# Services that only handler paths Hangar's stacks never take call, and why they are never taken.
UNUSED_SERVICES = {
    "amplify": "web ACL associations with Amplify apps (the web ACL protects a load balancer)",
    "apigateway": "web ACL associations with API Gateway stages",
    "apprunner": "web ACL associations with App Runner services",
    "appsync": "web ACL associations with AppSync APIs",
    "bedrock-agentcore": "web ACL associations with Bedrock AgentCore gateways",
    "cognito-idp": "web ACL associations with user pools, and Cognito-authenticated listeners",
    "docdb-elastic": "secret attachments to DocumentDB clusters (the secret's target is RDS)",
    "redshift": "secret attachments to Redshift clusters",
    "redshift-serverless": "secret attachments to Redshift Serverless",
    "elasticfilesystem": "file systems mounted in Lambda functions",
    "s3files": "file systems mounted in Lambda functions",
    "firehose": "log group delivery to Firehose",
    "s3tables": "S3 Tables and bucket metadata tables",
    "vpc-lattice": "VPC Lattice service network endpoints",
    "vpce": "cross-region VPC endpoints",
    "payments": "paid web ACL features the stacks do not use (AWS managed rules are free)",
}
# Actions of services the stacks do use, for identities they never have.
UNUSED_ACTIONS = {
    "iam:*UserPolicy": "inline policies of IAM users: the stacks' policies belong to roles",
    "iam:*GroupPolicy": "inline policies of IAM groups: the stacks have none",
}


@cache
def _schema_files(region: str) -> Mapping[str, str]:
    providers = _schemas_dir() / "providers" / f"{region}.json"
    files: dict[str, str] = json.loads(providers.read_text())
    return files


def _schema(kind: str, region: str) -> dict[str, Any]:
    name = _schema_files(region).get(kind)
    if name is None:
        raise HangarError(
            f"cfn-lint has no resource provider schema for {kind} in {region}, so what "
            "CloudFormation needs to deploy it is unknown",
            hint="upgrade cfn-lint (uv lock --upgrade-package cfn-lint), or check the type name",
        )
    schema: dict[str, Any] = json.loads((_schemas_dir() / "resources" / f"{name}.json").read_text())
    return schema


def unused(action: str) -> bool:
    service = action.split(":", 1)[0]
    return service in UNUSED_SERVICES or any(fnmatch.fnmatch(action, p) for p in UNUSED_ACTIONS)


def handler_permissions(types: Iterable[str], region: str) -> dict[str, set[str]]:
    """Each permission the stack handlers of `types` need, with the `<type>.<handler>`s that list
    it; the unused services and actions above left out."""
    needed: dict[str, set[str]] = {}
    for kind in sorted(set(types) - NO_SERVICE):
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            for action in CUSTOM_RESOURCE_PERMISSIONS:
                needed.setdefault(action, set()).add(kind)
            continue
        handlers = _schema(kind, region).get("handlers", {})
        for handler in STACK_HANDLERS:
            for action in handlers.get(handler, {}).get("permissions", []):
                if not unused(action):
                    needed.setdefault(action, set()).add(f"{kind}.{handler}")
    return needed


def ungranted(
    policy: Mapping[str, Any], types: Iterable[str], *, region: str, account: str, principal: str
) -> list[str]:
    """The handler permissions of `types` that `policy` does not grant `principal` (the execution
    role), each with the handlers that need it. Asked of the simulator for any resource; an action
    IAM's reference data does not know (a schema's misspelling, or one newer than that data) counts
    as granted only where the policy grants its whole service."""
    needed = handler_permissions(types, region)
    decisions = evaluate(
        {"execution-policy": policy},
        [IamRequest(action, "*") for action in sorted(needed)],
        principal=principal,
        account=account,
    )
    allowed = _allowed_patterns(policy)
    return [
        f"{d.request.action} ({', '.join(sorted(needed[d.request.action]))})"
        for d in decisions
        if not d.allowed
        and not (d.decision == "Invalid" and f"{d.request.action.split(':')[0]}:*" in allowed)
    ]


def _allowed_patterns(policy: Mapping[str, Any]) -> set[str]:
    patterns: set[str] = set()
    for statement in policy.get("Statement", []):
        if statement.get("Effect") == "Allow":
            actions = statement.get("Action", [])
            patterns.update([actions] if isinstance(actions, str) else actions)
    return patterns
