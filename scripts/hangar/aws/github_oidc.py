"""`hangar bootstrap-aws`: let GitHub Actions deploy to an AWS account without stored keys.

Creates (idempotently) the account's GitHub OIDC identity provider, one deploy role per GitHub
environment whose trust is limited to `repo:<owner>/<name>:environment:<env>`, a read-only role
for the `cdk diff` that pull requests show, then runs `cdk bootstrap` once per stage it deploys
(each stage has a bootstrap of its own, see hangar.cdk.bootstrap_template).
The policy documents are pure functions so that tests can check exactly what is trusted and granted.
"""

import argparse
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from hangar.aws.execution_policy import committed_policy, ensure_managed_policy
from hangar.cdk import driver as cdk
from hangar.cdk.bootstrap_template import (
    stage_qualifier,
)
from hangar.core.aws_clients import DEFAULT_REGION, aws_client, caller_region
from hangar.core.console import info, step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.localstack.endpoint import configured_endpoint

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
DIFF_STAGE = "staging"
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True)
class Environment:
    github: str  # GitHub environment name, as it appears in the token's `sub` claim
    stage: str  # the CDK stage it deploys

    @property
    def role_name(self) -> str:
        return f"{contract().service_name}-github-deploy-{self.github}"


ENVIRONMENTS = (Environment("staging", "staging"), Environment("production", "prod"))


def diff_role_name() -> str:
    return f"{contract().service_name}-github-cdk-diff"


def parse_repository(value: str) -> str:
    if not REPOSITORY_PATTERN.fullmatch(value):
        raise HangarError(
            f"--github-repo {value!r} is not owner/name.",
            hint="pass the repository as GitHub shows it, e.g. --github-repo acme/hangar",
        )
    return value


# --- policy documents (pure) ---------------------------------------------------------------------


def trust_policy(provider_arn: str, subject: str) -> dict[str, Any]:
    """Only tokens GitHub minted for AWS STS, for exactly `subject`, may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject,
                    }
                },
            }
        ],
    }


def environment_subject(repository: str, environment: str) -> str:
    return f"repo:{repository}:environment:{environment}"


def pull_request_subject(repository: str) -> str:
    return f"repo:{repository}:pull_request"


def cdk_role_arn(account: str, region: str, stage: str, purpose: str) -> str:
    """A role of the stage's own CDK bootstrap: cdk-<qualifier>-<purpose>-<account>-<region>."""
    return f"arn:aws:iam::{account}:role/cdk-{stage_qualifier(stage)}-{purpose}-{account}-{region}"


def bootstrap_version_parameter(account: str, region: str, stage: str) -> str:
    return (
        f"arn:aws:ssm:{region}:{account}:parameter/cdk-bootstrap/{stage_qualifier(stage)}/version"
    )


def deploy_permissions(account: str, region: str, stage: str) -> dict[str, Any]:
    """What `make deploy STAGE=<stage>` needs beyond the CDK bootstrap roles it assumes."""
    stack_prefix = f"{contract().resource_prefix(stage)}-"
    stage_cluster = f"arn:aws:ecs:{region}:{account}:cluster/{stack_prefix}*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # CloudFormation changes go through the bootstrap roles, never this role directly;
                # only through its own stage's: another stage's may share the account.
                "Sid": "UseCdkBootstrapRoles",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": [
                    cdk_role_arn(account, region, stage, purpose)
                    for purpose in ("deploy-role", "file-publishing-role", "lookup-role")
                ],
            },
            {
                # The deploy watcher follows the stack's events and stops a deploy that cannot
                # succeed: it cancels an update, or deletes a stack whose creation failed.
                "Sid": "WatchStageStacks",
                "Effect": "Allow",
                "Action": [
                    "cloudformation:CancelUpdateStack",
                    "cloudformation:DeleteStack",
                    "cloudformation:DescribeStackEvents",
                    "cloudformation:DescribeStacks",
                ],
                "Resource": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_prefix}*/*",
            },
            {
                "Sid": "ReadBootstrapVersion",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": bootstrap_version_parameter(account, region, stage),
            },
            {
                "Sid": "EcrLogin",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
            {
                "Sid": "PushStageImages",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:CompleteLayerUpload",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:InitiateLayerUpload",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                ],
                # The stage's repository is named by its resource prefix (the registry stack).
                "Resource": (
                    f"arn:aws:ecr:{region}:{account}:repository/{contract().resource_prefix(stage)}"
                ),
            },
            {
                # Task-definition registration has no resource-level permissions in IAM.
                "Sid": "MigrationTaskDefinition",
                "Effect": "Allow",
                "Action": [
                    "ecs:DeregisterTaskDefinition",
                    "ecs:DescribeTaskDefinition",
                    "ecs:RegisterTaskDefinition",
                ],
                "Resource": "*",
            },
            {
                # The revision registered for the run has no stage in its name; the cluster has:
                # CloudFormation names it after the stage's stack.
                "Sid": "RunMigrationTask",
                "Effect": "Allow",
                "Action": "ecs:RunTask",
                "Resource": f"arn:aws:ecs:{region}:{account}:task-definition/*",
                "Condition": {"ArnLike": {"ecs:cluster": stage_cluster}},
            },
            {
                "Sid": "FollowStageTasks",
                "Effect": "Allow",
                "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
                "Resource": f"arn:aws:ecs:{region}:{account}:task/{stack_prefix}*/*",
            },
            {
                # What the watcher reads to say why a service's tasks fail.
                "Sid": "DiagnoseStageServices",
                "Effect": "Allow",
                "Action": ["ecs:DescribeClusters", "ecs:DescribeServices"],
                "Resource": [
                    stage_cluster,
                    f"arn:aws:ecs:{region}:{account}:service/{stack_prefix}*/*",
                ],
            },
            {
                "Sid": "ListStageTasks",
                "Effect": "Allow",
                "Action": "ecs:ListTasks",
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "ecs:cluster": f"arn:aws:ecs:{region}:{account}:cluster/{stack_prefix}*"
                    }
                },
            },
            {
                # Target health has no resource-level permissions in IAM.
                "Sid": "ReadTargetHealth",
                "Effect": "Allow",
                "Action": "elasticloadbalancing:DescribeTargetHealth",
                "Resource": "*",
            },
            {
                "Sid": "ReadStageLogs",
                "Effect": "Allow",
                "Action": "logs:GetLogEvents",
                "Resource": (
                    f"arn:aws:logs:{region}:{account}:log-group:"
                    f"/{contract().service_name}/{stage}/*:log-stream:*"
                ),
            },
            {
                "Sid": "PassStageTaskRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": f"arn:aws:iam::{account}:role/{stack_prefix}*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            },
        ],
    }


def diff_permissions(account: str, region: str, stage: str) -> dict[str, Any]:
    """Read-only: enough for `cdk diff` of one stage, through the bootstrap's lookup role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UseCdkLookupRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": cdk_role_arn(account, region, stage, "lookup-role"),
            },
            {
                "Sid": "ReadStageStacks",
                "Effect": "Allow",
                "Action": ["cloudformation:DescribeStacks", "cloudformation:GetTemplate"],
                "Resource": (
                    f"arn:aws:cloudformation:{region}:{account}:stack/"
                    f"{contract().resource_prefix(stage)}-*/*"
                ),
            },
            {
                "Sid": "ReadBootstrapVersion",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": bootstrap_version_parameter(account, region, stage),
            },
        ],
    }


# --- IAM (idempotent) ----------------------------------------------------------------------------


def ensure_oidc_provider(iam: Any) -> str:
    """The account's GitHub OIDC provider ARN, created when missing, with the STS audience."""
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        arn = provider["Arn"]
        if arn.endswith(f"oidc-provider/{GITHUB_OIDC_HOST}"):
            audiences = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)[
                "ClientIDList"
            ]
            if AUDIENCE not in audiences:
                iam.add_client_id_to_open_id_connect_provider(
                    OpenIDConnectProviderArn=arn, ClientID=AUDIENCE
                )
            info(f"GitHub OIDC provider: {arn} (exists)")
            return str(arn)
    # No thumbprint: IAM trusts GitHub's endpoint through its own CA library, not a pinned one.
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{GITHUB_OIDC_HOST}",
        ClientIDList=[AUDIENCE],
        Tags=[{"Key": "managed-by", "Value": "hangar"}],
    )["OpenIDConnectProviderArn"]
    info(f"GitHub OIDC provider: {arn} (created)")
    return str(arn)


def ensure_role(
    iam: Any, name: str, trust: Mapping[str, Any], permissions: Mapping[str, Any], description: str
) -> str:
    """Create `name` or bring its trust and inline policy up to date; returns the role ARN."""
    trust_document = json.dumps(trust)
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust_document)
        state = "updated"
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=trust_document,
            Description=description,
            MaxSessionDuration=3600,
            Tags=[{"Key": "managed-by", "Value": "hangar"}],
        )["Role"]["Arn"]
        state = "created"
    iam.put_role_policy(RoleName=name, PolicyName="hangar", PolicyDocument=json.dumps(permissions))
    info(f"role {name}: {arn} ({state})")
    return str(arn)


def ensure_github_roles(
    iam: Any,
    *,
    account: str,
    region: str,
    repository: str,
    environments: tuple[Environment, ...] = ENVIRONMENTS,
) -> dict[str, str]:
    """Provider plus the roles of `environments` (those whose stages live in this account);
    returns {GitHub environment or 'cdk-diff': role ARN}."""
    provider = ensure_oidc_provider(iam)
    roles = {
        environment.github: ensure_role(
            iam,
            environment.role_name,
            trust_policy(provider, environment_subject(repository, environment.github)),
            deploy_permissions(account, region, environment.stage),
            f"GitHub Actions deploys of {repository} to stage {environment.stage}",
        )
        for environment in environments
    }
    if DIFF_STAGE not in {environment.stage for environment in environments}:
        return roles
    roles["cdk-diff"] = ensure_role(
        iam,
        diff_role_name(),
        trust_policy(provider, pull_request_subject(repository)),
        diff_permissions(account, region, DIFF_STAGE),
        f"Read-only cdk diff of {DIFF_STAGE} for pull requests of {repository}",
    )
    return roles


# --- the command ---------------------------------------------------------------------------------


def run_bootstrap(args: argparse.Namespace) -> int:
    repository = parse_repository(args.github_repo)
    endpoint = configured_endpoint().url if args.local else None
    region = caller_region({} if endpoint else os.environ, args.region)
    # Unreachable endpoint, no credentials: hangar.cli turns them into one line with what to do.
    account = aws_client("sts", region=region, endpoint=endpoint).get_caller_identity()["Account"]
    info(f"Bootstrapping account {account}, region {region}, for GitHub repository {repository}")
    environments = selected_environments(args.environment)
    iam = aws_client("iam", region=region, endpoint=endpoint)
    with step("Create or update the GitHub OIDC provider and roles"):
        roles = ensure_github_roles(
            iam,
            account=account,
            region=region,
            repository=repository,
            environments=environments,
        )
    with step(
        "Create or update the CloudFormation execution policy (infra/cfn-execution-policy.json)"
    ):
        policy_arn = ensure_managed_policy(iam, account, committed_policy())
    for environment in environments:
        qualifier = stage_qualifier(environment.stage)
        with step(f"cdk bootstrap of stage {environment.stage} (qualifier {qualifier})"):
            cdk.bootstrap(account, region, endpoint, environment.stage, policy_arn)
    info("\nNow set these in GitHub (Settings → Environments / Variables):")
    for environment in environments:
        prefix = f"  environment {environment.github}: variable"
        info(f"{prefix} AWS_DEPLOY_ROLE_ARN = {roles[environment.github]}")
    if "cdk-diff" in roles:
        diff_role = roles["cdk-diff"]
        info(f"  repository: variable AWS_DIFF_ROLE_ARN = {diff_role} (PR cdk diff; optional)")
    if any(environment.github == "production" for environment in environments):
        info("  environment production: add required reviewers")
    return 0


def selected_environments(names: list[str] | None) -> tuple[Environment, ...]:
    """The environments whose stages this account holds; all of them in a shared account."""
    if not names:
        return ENVIRONMENTS
    return tuple(environment for environment in ENVIRONMENTS if environment.github in names)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bootstrap-aws",
        help="create the GitHub OIDC provider and deploy roles, then cdk bootstrap the account",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--github-repo", required=True, metavar="OWNER/NAME")
    parser.add_argument(
        "--region",
        help=f"the stacks' region, {DEFAULT_REGION} (infra/cdk.json hangar:region); "
        "any other is refused",
    )
    parser.add_argument(
        "--environment",
        action="append",
        choices=[environment.github for environment in ENVIRONMENTS],
        help="only this GitHub environment's role (repeatable): one AWS account per stage, the "
        "recommended setup, runs it once per account; default: all (one shared account)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="against LocalStack (LOCALSTACK_ENDPOINT or HANGAR_LOCALSTACK_PORT), to try it out",
    )
    parser.set_defaults(func=run_bootstrap)
