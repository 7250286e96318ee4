"""The CDK bootstrap of one stage: its own qualifier, and a deploy role limited to its own stacks.

The stock bootstrap template lets its deploy role create, change and delete any stack of the account
(Resource "*"), and every principal of the account with `sts:AssumeRole` may assume it. With staging
and production in one account, staging's deploy could change production through it. So each stage
deploys through a bootstrap of its own (infra/cdk.json `hangar:cdkQualifiers`, the CDK app's
StageConfig.cdk_qualifier: roles `cdk-<qualifier>-…`, toolkit stack `CDKToolkit-<qualifier>`), each
GitHub deploy role may assume only its stage's (hangar.aws.github_oidc), and each bootstrap's
template is the stock one of the CDK CLI pinned in package.json (`cdk bootstrap --show-template`,
read per installed CLI version so it cannot drift from the CLI) with the deploy role's
CloudFormation statements limited to `stack/<service>-<stage>-*`.
"""

import copy
import json
import os
import subprocess
import tempfile
from typing import Any

from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import INFRA_DIR, NODE_BIN, ROOT, STATE_DIR

# The CDK's own default qualifier: its toolkit stack keeps the CDK's default name (cdklocal's).
CDK_DEFAULT_QUALIFIER = "hnb659fds"
DEPLOY_ROLE = "DeploymentActionRole"
# The deploy role's one managed policy in the stock template: read-only, so it can change no stack.
READ_ONLY_MANAGED_POLICY = "AWSCloudFormationReadOnlyAccess"


def stage_qualifiers() -> dict[str, str]:
    """Every stage's qualifier, in stage order, read where the CDK app reads it (without starting
    jsii): its keys are the one list of stages."""
    qualifiers = json.loads((INFRA_DIR / "cdk.json").read_text())["context"]["hangar:cdkQualifiers"]
    return {str(stage): str(qualifier) for stage, qualifier in qualifiers.items()}


def stage_qualifier(stage: str) -> str:
    """The stage's qualifier."""
    qualifiers = stage_qualifiers()
    if stage not in qualifiers:
        raise HangarError(
            f"stage {stage!r} has no CDK bootstrap qualifier",
            hint="add it to hangar:cdkQualifiers in infra/cdk.json",
        )
    return str(qualifiers[stage])


def toolkit_stack_name(qualifier: str) -> str:
    return "CDKToolkit" if qualifier == CDK_DEFAULT_QUALIFIER else f"CDKToolkit-{qualifier}"


def stage_stacks(stage: str) -> str:
    """The ARN pattern of the stage's stacks, as the template's `Fn::Sub` (CloudFormation names
    them `<service>-<stage>-registry` and `<service>-<stage>-service`)."""
    return (
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/"
        f"{contract().resource_prefix(stage)}-*"
    )


def stock_template() -> dict[str, Any]:
    """The bootstrap template of the installed CDK CLI (it needs no credentials to print it), kept
    in .hangar/ per CLI version: printing it starts the CLI, a second of every fresh bootstrap."""
    package = ROOT / "node_modules" / "aws-cdk" / "package.json"
    version = json.loads(package.read_text())["version"]
    cached = STATE_DIR / f"cdk-bootstrap-template-{version}.json"
    if cached.is_file():
        template: dict[str, Any] = json.loads(cached.read_text())
        return template
    with tempfile.TemporaryDirectory(prefix="hangar-bootstrap-template-") as scratch:
        result = subprocess.run(
            [str(NODE_BIN / "cdk"), "bootstrap", "--show-template", "--json"],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise HangarError(
            f"`cdk bootstrap --show-template` failed: {result.stderr.strip()[-1000:]}",
            hint="run `make setup` (npm ci installs the CDK CLI)",
        )
    template = json.loads(result.stdout)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}")  # parallel tests write it too
    partial.write_text(result.stdout)
    partial.replace(cached)
    return template


def _deploy_role(template: dict[str, Any]) -> dict[str, Any]:
    role: dict[str, Any] = template.get("Resources", {}).get(DEPLOY_ROLE, {}).get("Properties", {})
    return role


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def scoped_template(stock: dict[str, Any], stage: str) -> dict[str, Any]:
    """`stock` with every CloudFormation action its deploy role has on "*" limited to the stage's
    stacks; other actions of those statements keep "*". A template without such a statement is
    one this module no longer understands: an error, never an unscoped bootstrap."""
    template = copy.deepcopy(stock)
    scoped = 0
    for policy in _deploy_role(template).get("Policies", []):
        document = policy["PolicyDocument"]
        statements: list[dict[str, Any]] = []
        for statement in document["Statement"]:
            actions = _actions(statement)
            stack_actions = [a for a in actions if a.startswith("cloudformation:")]
            if statement.get("Resource") != "*" or not stack_actions:
                statements.append(statement)
                continue
            scoped += 1
            stacks = {"Fn::Sub": stage_stacks(stage)}
            statements.append({**statement, "Action": stack_actions, "Resource": stacks})
            others = [a for a in actions if a not in stack_actions]
            if others:
                rest = {key: value for key, value in statement.items() if key != "Sid"}
                statements.append({**rest, "Action": others})
        document["Statement"] = statements
    if not scoped:
        raise HangarError(
            f"the CDK CLI's bootstrap template has no {DEPLOY_ROLE} statement granting "
            "CloudFormation actions on every stack: hangar.cdk.bootstrap_template cannot scope it",
            hint="the pinned aws-cdk changed its template; update hangar.cdk.bootstrap_template",
        )
    return template


def deploy_role_stack_policy(
    template: dict[str, Any], *, account: str, region: str, qualifier: str
) -> dict[str, Any]:
    """The deploy role's inline statements that could allow a CloudFormation action, resolved for
    one environment, to evaluate. Its managed policy must be the read-only one (checked)."""
    role = _deploy_role(template)
    managed = [json.dumps(arn) for arn in role.get("ManagedPolicyArns", [])]
    if any(READ_ONLY_MANAGED_POLICY not in arn for arn in managed):
        raise HangarError(f"the bootstrap deploy role has a managed policy to review: {managed}")
    values = {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::AccountId": account,
        "Qualifier": qualifier,
    }
    statements = [
        _resolve(statement, values)
        for policy in role.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if "NotAction" in statement
        or any(a == "*" or a.startswith("cloudformation:") for a in _actions(statement))
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def _resolve(value: Any, values: dict[str, str]) -> Any:
    """`Ref` and `Fn::Sub` of pseudo parameters and the qualifier; anything else is refused."""
    if isinstance(value, list):
        return [_resolve(item, values) for item in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return values[value["Ref"]]
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        for name, resolved in values.items():
            text = text.replace("${" + name + "}", resolved)
        if "${" in text:
            raise HangarError(f"cannot resolve {value['Fn::Sub']!r} in the deploy role's policy")
        return text
    if any(key.startswith("Fn::") for key in value):
        raise HangarError(f"cannot resolve {value} in the deploy role's policy")
    return {key: _resolve(item, values) for key, item in value.items()}
