"""`hangar bootstrap-aws`: let GitHub Actions deploy to an AWS account without stored keys.

For the stages it is given (all but `local` in one shared account by default) it creates, or brings
up to date: the account's GitHub OIDC identity provider; one deploy role per GitHub environment of
.github/environments.yml whose stage is among them, trusted for exactly
`<subject prefix>:environment:<env>`; a read-only role for the `cdk diff` that pull requests show;
one CloudFormation execution policy per stage (hangar.aws.stage_guardrails); and one `cdk bootstrap`
per stage (hangar.cdk.bootstrap_template). Then it applies .github/environments.yml through
GitHub's API (hangar.provision.github_environments) with the role ARNs as variables.

The subject prefix is how GitHub names the repository in its tokens' `sub`
(hangar.aws.github_subject); it is trusted exactly, never widened to `repo:owner/name:*`.
The policy documents are pure functions so that tests can check exactly what is trusted and granted.
"""

import argparse
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from hangar.aws.escalation import ADMINISTRATOR, Principal, escalations, managed_policy
from hangar.aws.execution_policy import committed_policy, ensure_managed_policy, policy_name
from hangar.aws.github_subject import parse_subject_prefix, subject_prefix_from_github
from hangar.aws.stage_guardrails import stage_execution_policy
from hangar.cdk import driver as cdk
from hangar.cdk.bootstrap_template import (
    DEPLOY_ROLE,
    LOOKUP_ROLE,
    cloud_stages,
    role_policies,
    scoped_template,
    stage_boundary,
    stage_qualifier,
    stock_template,
)
from hangar.core.aws_clients import DEFAULT_REGION, aws_client, caller_region
from hangar.core.console import info, step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.github_api import CREDENTIALS_HINT, GitHubApi
from hangar.localstack.endpoint import configured_endpoint
from hangar.provision import github_environments
from hangar.provision.github_environments import Declaration, DeployEnvironment, Repository

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
DIFF_STAGE = "staging"
# A production deploy waits for a person: its environment must name reviewers.
REVIEWED_STAGE = "prod"
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")


def role_name(environment: str) -> str:
    return f"{contract().service_name}-github-deploy-{environment}"


def diff_role_name() -> str:
    return f"{contract().service_name}-github-cdk-diff"


def readonly_role_name(stage: str) -> str:
    """Outside the stage's own names (`<service>-<stage>-…`), which its stacks' roles may take."""
    return f"{contract().service_name}-readonly-{stage}"


def parse_repository(value: str | None) -> str:
    if not value or not REPOSITORY_PATTERN.fullmatch(value):
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


def environment_subject(prefix: str, environment: str) -> str:
    """What a job running in `environment` carries in `sub` (with the repository's prefix)."""
    return f"{prefix}:environment:{environment}"


def pull_request_subject(prefix: str) -> str:
    """What a pull request's job (in no environment) carries in `sub`."""
    return f"{prefix}:pull_request"


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
    releases_arn = stage_releases_arn(account, region, stage)
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
                # hangar.deploy.releases: the record a deploy or rollback leaves, and reads back.
                "Sid": "RecordStageReleases",
                "Effect": "Allow",
                "Action": ["ssm:GetParametersByPath", "ssm:PutParameter"],
                "Resource": [releases_arn, f"{releases_arn}/*"],
            },
            {
                # hangar.deploy.declared_secrets: whether each declared secret has a value, never
                # the value itself (the tasks' execution roles read those).
                "Sid": "CheckDeclaredSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:DescribeSecret",
                "Resource": (
                    f"arn:aws:secretsmanager:{region}:{account}:secret:"
                    f"{contract().secret_name(stage, '*')}"
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


def stage_releases_arn(account: str, region: str, stage: str) -> str:
    """The SSM path of the stage's release records (hangar.deploy.releases)."""
    return f"arn:aws:ssm:{region}:{account}:parameter/{contract().service_name}/{stage}/releases"


def readonly_permissions(account: str, region: str, stage: str) -> dict[str, Any]:
    """What `make status`, `make logs STAGE=` and `make releases` read, and nothing they change."""
    stack_prefix = f"{contract().resource_prefix(stage)}-"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadStageStacks",
                "Effect": "Allow",
                "Action": "cloudformation:DescribeStacks",
                "Resource": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_prefix}*/*",
            },
            {
                "Sid": "ReadStageReleases",
                "Effect": "Allow",
                "Action": "ssm:GetParametersByPath",
                "Resource": stage_releases_arn(account, region, stage),
            },
            {
                "Sid": "ReadStageServices",
                "Effect": "Allow",
                "Action": ["ecs:DescribeServices", "ecs:DescribeTasks"],
                "Resource": [
                    f"arn:aws:ecs:{region}:{account}:service/{stack_prefix}*/*",
                    f"arn:aws:ecs:{region}:{account}:task/{stack_prefix}*/*",
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
                # DescribeAlarms is authorized on every alarm at once (`alarm:*`); the command
                # asks only for the stage's by name prefix.
                "Sid": "ReadAlarms",
                "Effect": "Allow",
                "Action": "cloudwatch:DescribeAlarms",
                "Resource": f"arn:aws:cloudwatch:{region}:{account}:alarm:*",
            },
            {
                "Sid": "ReadStageLogs",
                "Effect": "Allow",
                "Action": "logs:FilterLogEvents",
                "Resource": (
                    f"arn:aws:logs:{region}:{account}:log-group:/{contract().service_name}/{stage}/*"
                ),
            },
        ],
    }


def readonly_trust(account: str, principal: str | None = None) -> dict[str, Any]:
    """Developers of the account who signed in with MFA; or, with `principal`, exactly that role
    or user (an SSO permission set's role: its identity provider asks for MFA, and IAM does not
    see it)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal or f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    if principal is None:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def stage_principals(
    template: dict[str, Any],
    environments: tuple[DeployEnvironment, ...],
    *,
    account: str,
    region: str,
    stage: str,
) -> list[Principal]:
    """Everything that acts for `stage` in the account, with what it may do (`template`: the stage's
    bootstrap template): the escalation check's subjects (hangar.aws.escalation)."""
    session = f"arn:aws:sts::{account}:assumed-role"
    principals = [
        Principal(
            f"GitHub role {role_name(e.name)}",
            f"{session}/{role_name(e.name)}/GitHubActions",
            {"hangar": deploy_permissions(account, region, e.stage)},
        )
        for e in environments
        if e.stage == stage
    ]
    if stage == DIFF_STAGE:
        principals.append(
            Principal(
                f"GitHub role {diff_role_name()}",
                f"{session}/{diff_role_name()}/GitHubActions",
                {"hangar": diff_permissions(account, region, stage)},
            )
        )
    principals.append(
        Principal(
            f"read-only role {readonly_role_name(stage)}",
            f"{session}/{readonly_role_name(stage)}/developer",
            {"hangar": readonly_permissions(account, region, stage)},
        )
    )
    for logical_id, purpose in ((DEPLOY_ROLE, "deploy-role"), (LOOKUP_ROLE, "lookup-role")):
        inline, managed = role_policies(
            template, logical_id, account=account, region=region, stage=stage
        )
        name = f"cdk-{stage_qualifier(stage)}-{purpose}"
        policies = {"inline": inline, **{arn: managed_policy(arn) for arn in managed}}
        principals.append(
            Principal(f"bootstrap role {name}", f"{session}/{name}/cdk-cli", policies)
        )
    execution = stage_execution_policy(
        committed_policy(), account=account, region=region, stage=stage
    )
    exec_role = f"cdk-{stage_qualifier(stage)}-cfn-exec-role"
    principals.append(
        Principal(
            f"execution role {exec_role}",
            f"{session}/{exec_role}/AWSCloudFormation",
            {policy_name(stage): execution},
        )
    )
    principals.append(
        Principal(
            f"any role of {stage}'s stacks, holding AdministratorAccess",
            f"{session}/{contract().resource_prefix(stage)}-service-AppTaskRole7EC51C11-AbCdEf12/ecs-task",
            {"AdministratorAccess": ADMINISTRATOR},
            {"boundary": stage_boundary(stage)},
        )
    )
    return principals


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
    subject_prefix: str,
    environments: tuple[DeployEnvironment, ...],
) -> dict[str, str]:
    """Provider plus the roles of `environments` (those whose stages live in this account);
    returns {GitHub environment or 'cdk-diff': role ARN}."""
    provider = ensure_oidc_provider(iam)
    roles = {
        environment.name: ensure_role(
            iam,
            role_name(environment.name),
            trust_policy(provider, environment_subject(subject_prefix, environment.name)),
            deploy_permissions(account, region, environment.stage),
            f"GitHub Actions deploys of {subject_prefix} to stage {environment.stage}",
        )
        for environment in environments
    }
    if DIFF_STAGE not in {environment.stage for environment in environments}:
        return roles
    roles["cdk-diff"] = ensure_role(
        iam,
        diff_role_name(),
        trust_policy(provider, pull_request_subject(subject_prefix)),
        diff_permissions(account, region, DIFF_STAGE),
        f"Read-only cdk diff of {DIFF_STAGE} for pull requests of {subject_prefix}",
    )
    return roles


# --- the command ---------------------------------------------------------------------------------


def selected_stages(chosen: list[str] | None) -> list[str]:
    """The stages to bootstrap in this account, in stage order: all of them by default."""
    return [stage for stage in cloud_stages() if not chosen or stage in chosen]


def run_bootstrap(args: argparse.Namespace) -> int:
    stages = selected_stages(args.stage)
    declaration = github_environments.load()
    environments = tuple(e for e in declaration.environments if e.stage in stages)
    endpoint = configured_endpoint().url if args.local else None
    region = caller_region({} if endpoint else os.environ, args.region)
    github = github_side(args, declaration, environments) if environments else None
    # Unreachable endpoint, no credentials: hangar.cli turns them into one line with what to do.
    account = aws_client("sts", region=region, endpoint=endpoint).get_caller_identity()["Account"]
    info(f"Bootstrapping account {account}, region {region}, for stage(s) {', '.join(stages)}")
    with step("Check that nothing acting for a stage can act beyond it (IAM simulator)"):
        refuse_escalations(declaration, stages, account=account, region=region)
    iam = aws_client("iam", region=region, endpoint=endpoint)
    roles: dict[str, str] = {}
    if github:
        with step(f"Create or update the GitHub OIDC provider and roles ({github.prefix})"):
            roles = ensure_github_roles(
                iam,
                account=account,
                region=region,
                subject_prefix=github.prefix,
                environments=environments,
            )
    for stage in stages:
        bootstrap_stage(iam, account=account, region=region, endpoint=endpoint, stage=stage)
        with step(f"Create or update the read-only role {readonly_role_name(stage)}"):
            ensure_role(
                iam,
                readonly_role_name(stage),
                readonly_trust(account, args.readonly_principal),
                readonly_permissions(account, region, stage),
                f"Read-only day-two view of stage {stage}: make status, logs, releases",
            )
    if github:
        github.settle(declaration, environments, roles)
    return 0


def refuse_escalations(
    declaration: Declaration, stages: list[str], *, account: str, region: str
) -> None:
    """The policies about to be installed, evaluated before any is (hangar.aws.escalation)."""
    github_roles = [role_name(e.name) for e in declaration.environments] + [diff_role_name()]
    github_roles += [readonly_role_name(stage) for stage in cloud_stages()]
    stock = stock_template()
    for stage in stages:
        principals = stage_principals(
            scoped_template(stock, stage),
            declaration.environments,
            account=account,
            region=region,
            stage=stage,
        )
        found = escalations(
            principals, account=account, region=region, stage=stage, github_roles=github_roles
        )
        if found:
            raise HangarError(
                f"through these policies stage {stage} could act beyond itself:\n  "
                + "\n  ".join(found),
                hint="fix the policy named first (tests/unit/test_privilege_escalation.py)",
            )


def bootstrap_stage(
    iam: Any, *, account: str, region: str, endpoint: str | None, stage: str
) -> None:
    """The stage's execution policy (the committed one with its guardrails) and its bootstrap."""
    name = policy_name(stage)
    with step(f"Create or update the CloudFormation execution policy {name}"):
        document = stage_execution_policy(
            committed_policy(), account=account, region=region, stage=stage
        )
        policy_arn = ensure_managed_policy(iam, account, name, document)
    with step(f"cdk bootstrap of stage {stage} (qualifier {stage_qualifier(stage)})"):
        cdk.bootstrap(account, region, endpoint, stage, policy_arn)


class GitHubSide:
    """The repository's part of the bootstrap: its subject prefix, then its settings."""

    def __init__(self, repository: str, prefix: str, api: GitHubApi | None) -> None:
        self.repository, self.prefix, self.api = repository, prefix, api

    def settle(
        self,
        declaration: Declaration,
        environments: tuple[DeployEnvironment, ...],
        roles: Mapping[str, str],
    ) -> None:
        variables = {e.name: {"AWS_DEPLOY_ROLE_ARN": roles[e.name]} for e in environments}
        repository_variables = repository_variables_for(environments, roles)
        if self.api is None:
            print_settings(environments, variables, repository_variables)
            return
        with step(f"Apply .github/environments.yml to {self.repository}"):
            github_environments.apply(
                Repository(self.api, self.repository),
                declaration,
                environments,
                variables,
                repository_variables,
            )


def github_side(
    args: argparse.Namespace,
    declaration: Declaration,
    environments: tuple[DeployEnvironment, ...],
) -> GitHubSide:
    """Checked before anything changes: the repository, its subject prefix, production's
    reviewers."""
    repository = parse_repository(args.github_repo)
    api = GitHubApi.from_environment()
    if args.oidc_subject_prefix:
        prefix = parse_subject_prefix(args.oidc_subject_prefix, repository)
    elif api:
        prefix = subject_prefix_from_github(api, repository)
    else:
        raise HangarError(
            "bootstrap-aws needs GitHub's API to learn the subject its tokens carry and to apply "
            ".github/environments.yml, and no GITHUB_TOKEN or GH_TOKEN is set",
            hint=f"{CREDENTIALS_HINT}; or pass --oidc-subject-prefix and set the printed "
            "settings by hand",
        )
    if api:
        unreviewed = [e.name for e in environments if e.stage == REVIEWED_STAGE and not e.reviewers]
        if unreviewed:
            raise HangarError(
                f"environment(s) {unreviewed} of .github/environments.yml deploy "
                f"{REVIEWED_STAGE} and name no reviewers",
                hint="list who approves a production deploy under `reviewers:`",
            )
    return GitHubSide(repository, prefix, api)


def repository_variables_for(
    environments: tuple[DeployEnvironment, ...], roles: Mapping[str, str]
) -> dict[str, str]:
    """The PR `cdk diff` role, and the certificate of the stage it diffs (its job runs outside
    that environment, so it cannot read the environment's variable)."""
    if "cdk-diff" not in roles:
        return {}
    variables = {"AWS_DIFF_ROLE_ARN": roles["cdk-diff"]}
    for environment in environments:
        if environment.stage == DIFF_STAGE and "CERTIFICATE_ARN" in environment.variables:
            variables["STAGING_CERTIFICATE_ARN"] = environment.variables["CERTIFICATE_ARN"]
    return variables


def print_settings(
    environments: tuple[DeployEnvironment, ...],
    variables: Mapping[str, Mapping[str, str]],
    repository_variables: Mapping[str, str],
) -> None:
    info("\nNo GitHub token: apply .github/environments.yml by hand (Settings → Environments):")
    for environment in environments:
        refs = [*environment.branches, *(f"tag {t}" for t in environment.tags)]
        info(f"  environment {environment.name}: deployment branches and tags {', '.join(refs)}")
        for name, value in {**environment.variables, **variables[environment.name]}.items():
            info(f"    variable {name} = {value}")
        if environment.reviewers:
            info(f"    required reviewers: {', '.join(environment.reviewers)}")
    for name, value in repository_variables.items():
        info(f"  repository variable {name} = {value}")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bootstrap-aws",
        help="create the GitHub OIDC provider and deploy roles, cdk bootstrap each stage, and "
        "apply .github/environments.yml",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--github-repo",
        metavar="OWNER/NAME",
        help="the repository whose environments deploy (needed unless only `dev` is bootstrapped)",
    )
    parser.add_argument(
        "--oidc-subject-prefix",
        metavar="PREFIX",
        help="the `sub` prefix of the repository's tokens (repo:OWNER/NAME, or "
        "repo:OWNER@<id>/NAME@<id> for immutable subjects); default: asked from GitHub's API",
    )
    parser.add_argument(
        "--region",
        help=f"the stacks' region, {DEFAULT_REGION} (infra/cdk.json hangar:region); "
        "any other is refused",
    )
    parser.add_argument(
        "--stage",
        action="append",
        choices=cloud_stages(),
        help="only this stage (repeatable): one AWS account per stage, the recommended setup, "
        "runs it once per account; default: all of them (one shared account)",
    )
    parser.add_argument(
        "--readonly-principal",
        metavar="ARN",
        help="the role or user that may assume each stage's read-only role (default: any "
        "principal of the account that signed in with MFA)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="against LocalStack (LOCALSTACK_ENDPOINT or HANGAR_LOCALSTACK_PORT), to try it out",
    )
    parser.set_defaults(func=run_bootstrap)
