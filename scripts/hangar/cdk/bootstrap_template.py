"""The CDK bootstrap of one stage: its own qualifier, roles limited to its own stacks, and the
permissions boundary of every role its stacks create.

The stock bootstrap template lets its deploy role create, change and delete any stack of the
account (Resource "*"), its lookup role read everything (ReadOnlyAccess: every S3 object of the
account), and every principal of the account with `sts:AssumeRole` may assume them. With staging and
production in one account, staging's deploy could change production through them. So each stage
deploys through a bootstrap of its own (infra/cdk.json `hangar:cdkQualifiers`, the CDK app's
StageConfig.cdk_qualifier: roles `cdk-<qualifier>-…`, toolkit stack `CDKToolkit-<qualifier>`), each
GitHub deploy role may assume only its stage's (hangar.aws.github_oidc), and each bootstrap's
template is the stock one of the CDK CLI pinned in package.json (`cdk bootstrap --show-template`,
read per installed CLI version so it cannot drift from the CLI) with three changes:

- the deploy role's CloudFormation statements are limited to `stack/<service>-<stage>-*`, and it
  passes the execution role to CloudFormation only;
- the lookup role reads the stage's stacks and the bootstrap version only (what `cdk diff` needs;
  the CDK app looks nothing else up);
- it adds the stage's permissions boundary (infra/cdk.json `hangar:permissionsBoundary`), which the
  CDK app puts on every role of the stage and the execution policy requires
  (hangar.aws.stage_guardrails): whatever a stack grants its roles, they never administer IAM,
  assume a role outside the stage, or touch another stage's resources.
"""

import copy
import fnmatch
import json
import os
import subprocess
import tempfile
from typing import Any

from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import NODE_BIN, ROOT, STATE_DIR
from hangar.core.stages import AWS_STAGES, PERMISSIONS_BOUNDARY, STAGES

# The CDK's own default qualifier: its toolkit stack keeps the CDK's default name (cdklocal's).
CDK_DEFAULT_QUALIFIER = "hnb659fds"
DEPLOY_ROLE = "DeploymentActionRole"
LOOKUP_ROLE = "LookupRole"
STAGE_BOUNDARY = "StageBoundary"
# The deploy role's one managed policy in the stock template: read-only, so it can change no stack.
READ_ONLY_MANAGED_POLICY = "AWSCloudFormationReadOnlyAccess"


def stage_qualifiers() -> dict[str, str]:
    """Every stage's qualifier, in stage order (hangar.core.stages)."""
    return {name: stage.cdk_qualifier for name, stage in STAGES.items()}


def cloud_stages() -> list[str]:
    """The stages deployed to AWS, each with a bootstrap of its own there."""
    return list(AWS_STAGES)


def boundary_name() -> str:
    """The name of the stage's permissions boundary policy, with `${Qualifier}` and
    `${AWS::Region}` to substitute (as the CDK app does; IAM names are per account)."""
    return PERMISSIONS_BOUNDARY


def boundary_arn(account: str, region: str, stage: str) -> str:
    name = (
        boundary_name()
        .replace("${Qualifier}", stage_qualifier(stage))
        .replace("${AWS::Region}", region)
    )
    return f"arn:aws:iam::{account}:policy/{name}"


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


def stage_roles(stage: str) -> str:
    """The ARN pattern of the roles the stage's stacks create (CloudFormation names them after the
    stack: `<service>-<stage>-<stack>-<logical id>-<suffix>`), in any account."""
    return f"arn:aws:iam::*:role/{contract().resource_prefix(stage)}-*"


def other_stages_stacks(stage: str) -> list[str]:
    """Name patterns of every other stage's stacks (and of what CloudFormation names after them).
    A stage whose names another's pattern would match (`prod` and `prod-eu`) is refused: its own
    resources would be denied to it."""
    own = f"{contract().resource_prefix(stage)}-"
    patterns = {s: f"{contract().resource_prefix(s)}-*" for s in stage_qualifiers() if s != stage}
    if clashes := sorted(s for s, pattern in patterns.items() if fnmatch.fnmatchcase(own, pattern)):
        raise HangarError(
            f"stage {stage!r}'s resource names start like those of stage(s) {clashes}",
            hint="rename one of them in hangar:cdkQualifiers (infra/cdk.json)",
        )
    return list(patterns.values())


def stage_boundary(stage: str) -> dict[str, Any]:
    """The most any role of the stage's stacks may do, whatever its own policies grant."""
    others = other_stages_stacks(stage)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "WhatItsOwnPoliciesGrant", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Sid": "NoIdentityAdministration",
                "Effect": "Deny",
                "Action": "iam:*",
                "Resource": "*",
            },
            {
                # The CDK bootstrap roles trust every principal of the account: not these.
                "Sid": "NoRolesOutsideTheStage",
                "Effect": "Deny",
                "Action": "sts:AssumeRole",
                "NotResource": stage_roles(stage),
            },
            *other_stages_resources(others),
        ],
    }


def other_stages_resources(others: list[str]) -> list[dict[str, Any]]:
    """Deny statements for what other stages' stacks created: resources CloudFormation tagged with
    their stack (secrets, keys, queues, topics, log groups, …), and their buckets (named after the
    stack; S3 does not authorize buckets by tag)."""
    return [
        {
            "Sid": "NoOtherStagesResources",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": others}},
        },
        {
            "Sid": "NoOtherStagesBuckets",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{name}" for name in others]
            + [f"arn:aws:s3:::{name}/*" for name in others],
        },
    ]


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
    return _properties(template, DEPLOY_ROLE)


def _properties(template: dict[str, Any], resource: str) -> dict[str, Any]:
    properties: dict[str, Any] = (
        template.get("Resources", {}).get(resource, {}).get("Properties", {})
    )
    return properties


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def scoped_template(stock: dict[str, Any], stage: str) -> dict[str, Any]:
    """`stock` made the stage's (see the module's docstring)."""
    template = copy.deepcopy(stock)
    _scope_deploy_role(template, stage)
    _scope_lookup_role(template, stage)
    template["Resources"][STAGE_BOUNDARY] = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "ManagedPolicyName": {"Fn::Sub": boundary_name()},
            "Description": f"The most a role of stage {stage}'s stacks may do (Hangar)",
            "PolicyDocument": stage_boundary(stage),
        },
    }
    return template


def _scope_lookup_role(template: dict[str, Any], stage: str) -> None:
    """The lookup role reads the stage's stacks and bootstrap version, not the whole account."""
    role = _properties(template, LOOKUP_ROLE)
    if not any("ReadOnlyAccess" in json.dumps(arn) for arn in role.get("ManagedPolicyArns", [])):
        raise HangarError(
            f"the CDK CLI's bootstrap template has no {LOOKUP_ROLE} with ReadOnlyAccess: "
            "hangar.cdk.bootstrap_template cannot scope it",
            hint="the pinned aws-cdk changed its template; update hangar.cdk.bootstrap_template",
        )
    del role["ManagedPolicyArns"]
    role["Policies"] = [
        *role.get("Policies", []),
        {
            "PolicyName": "ReadStageStacks",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "cloudformation:DescribeStackResources",
                            "cloudformation:DescribeStacks",
                            "cloudformation:GetTemplate",
                            "cloudformation:ListStackResources",
                        ],
                        "Resource": {"Fn::Sub": f"{stage_stacks(stage)}/*"},
                    },
                    {
                        "Effect": "Allow",
                        "Action": "ssm:GetParameter",
                        "Resource": {
                            "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:"
                            "${AWS::AccountId}:parameter/cdk-bootstrap/${Qualifier}/version"
                        },
                    },
                ],
            },
        },
    ]


def _scope_deploy_role(template: dict[str, Any], stage: str) -> None:
    """Every CloudFormation action the deploy role has on "*" limited to the stage's stacks; other
    actions of those statements keep "*". A template without such a statement is one this module
    no longer understands: an error, never an unscoped bootstrap."""
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
        document["Statement"] = [_to_cloudformation_only(s) for s in statements]
    if not scoped:
        raise HangarError(
            f"the CDK CLI's bootstrap template has no {DEPLOY_ROLE} statement granting "
            "CloudFormation actions on every stack: hangar.cdk.bootstrap_template cannot scope it",
            hint="the pinned aws-cdk changed its template; update hangar.cdk.bootstrap_template",
        )


def _to_cloudformation_only(statement: dict[str, Any]) -> dict[str, Any]:
    """The deploy role passes the execution role to CloudFormation, and to nothing else (a
    function running as it would act as CloudFormation does, outside any stack)."""
    if _actions(statement) != ["iam:PassRole"]:
        return statement
    only = {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    return {**statement, "Condition": {**statement.get("Condition", {}), **only}}


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


def role_policies(
    template: dict[str, Any], role: str, *, account: str, region: str, stage: str
) -> tuple[dict[str, Any], list[str]]:
    """A bootstrap role's inline statements, every one resolved for one account, and the ARNs of
    its managed policies: what the role may do, to evaluate."""
    qualifier = stage_qualifier(stage)
    values = {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "AWS::AccountId": account,
        "Qualifier": qualifier,
        # The bootstrap's own resources, named as the stock template names them.
        "CloudFormationExecutionRole.Arn": (
            f"arn:aws:iam::{account}:role/cdk-{qualifier}-cfn-exec-role-{account}-{region}"
        ),
        "StagingBucket.Arn": f"arn:aws:s3:::cdk-{qualifier}-assets-{account}-{region}",
        "CdkBootstrapVersion": f"/cdk-bootstrap/{qualifier}/version",
    }
    properties = _properties(template, role)
    statements = [
        _resolve(statement, values)
        for policy in properties.get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    managed = [_resolve(arn, values) for arn in properties.get("ManagedPolicyArns", [])]
    return {"Version": "2012-10-17", "Statement": statements}, managed


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
