"""The one way the CLI runs the CDK CLI: which CLI, its environment, the context, the bootstrap.

`synth`/`diff` (hangar.deploy.stacks), `deploy-local` (hangar.deploy.local_stage), `deploy`
(hangar.deploy.stage) and `bootstrap-aws` (hangar.aws.github_oidc) all build their command lines
and run them here, so that a CDK CLI, a context key or the way a failure is reported changes in
one place.
"""

import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hangar.cdk.bootstrap_template import (
    scoped_template,
    stage_qualifier,
    stock_template,
    toolkit_stack_name,
)
from hangar.core.aws_clients import aws_client, cli_environment
from hangar.core.console import info, step
from hangar.core.errors import HangarError
from hangar.core.paths import INFRA_DIR, NODE_BIN
from hangar.core.processes import run_in_own_group

# The CLI's Node is past end of life on these machines; its banner would bury the real output.
QUIET_CLI = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}


def cli(local: bool) -> str:
    """The project's CDK CLI: cdklocal for LocalStack, cdk for AWS."""
    path = NODE_BIN / ("cdklocal" if local else "cdk")
    if not path.exists():
        raise HangarError(f"{path} is missing.", hint="run `make setup` (npm ci installs it)")
    return str(path)


def app() -> str:
    """`--app`: the CDK app under this interpreter (the project venv), whatever cdk.json's default
    says (its `../.venv` is not the dev container's /app/.venv)."""
    return f"{sys.executable} app.py"


def context(stage: str, **values: str | None) -> list[str]:
    """`-c stage=<stage>` and `-c <key>=<value>` for each value given (None and "" are left out),
    e.g. context("prod", imageTag=sha, certificateArn=arn)."""
    arguments = ["-c", f"stage={stage}"]
    for key, value in values.items():
        if value:
            arguments += ["-c", f"{key}={value}"]
    return arguments


def environment(*, region: str, endpoint: str | None) -> dict[str, str]:
    """The CLI's environment: the caller's credentials (or LocalStack's), without banners."""
    return {**cli_environment(region=region, endpoint=endpoint), **QUIET_CLI}


def run(
    command: Sequence[str],
    *,
    region: str,
    endpoint: str | None,
    failure: str,
    hint: str,
    cwd: Path = INFRA_DIR,
) -> None:
    """Run a CDK CLI command (its output streams through, the progress the user sees)."""
    info("$ " + " ".join(command))
    env = environment(region=region, endpoint=endpoint)
    # Interrupted, the CLI stops with the CDK app it is synthesizing (a child of its own).
    returncode = run_in_own_group(command, cwd=cwd, env=env)
    if returncode != 0:
        raise HangarError(f"{failure} (cdk exited {returncode}).", hint=hint)


def bootstrap(
    account: str,
    region: str,
    endpoint: str | None,
    stage: str,
    execution_policy_arn: str | None = None,
) -> None:
    """`cdk bootstrap` of one stage's own bootstrap, with the template whose deploy role may only
    change that stage's stacks; run outside infra/ so the app is not synthesized.

    With `execution_policy_arn` CloudFormation's execution role gets that policy instead of the
    CDK's default, AdministratorAccess."""
    qualifier = stage_qualifier(stage)
    with tempfile.TemporaryDirectory(prefix="hangar-bootstrap-") as scratch:
        template = Path(scratch) / f"bootstrap-{stage}.json"
        template.write_text(json.dumps(scoped_template(stock_template(), stage)), encoding="utf-8")
        command = [
            cli(endpoint is not None),
            "bootstrap",
            f"aws://{account}/{region}",
            "--qualifier",
            qualifier,
            "--toolkit-stack-name",
            toolkit_stack_name(qualifier),
            "--template",
            str(template),
        ]
        if execution_policy_arn:
            command += ["--cloudformation-execution-policies", execution_policy_arn]
        run(
            command,
            region=region,
            endpoint=endpoint,
            failure="cdk bootstrap failed",
            hint="read its output above",
            cwd=Path(scratch),
        )


def is_bootstrapped(stage: str, *, region: str, endpoint: str | None) -> bool:
    """Whether the stage's bootstrap exists: its version parameter, which the CDK CLI reads too."""
    parameter = f"/cdk-bootstrap/{stage_qualifier(stage)}/version"
    try:
        aws_client("ssm", region=region, endpoint=endpoint).get_parameter(Name=parameter)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise HangarError(f"cannot read {parameter}: {error}") from error
        return False
    return True


# What `cdk bootstrap` passes for a new bootstrap with no options (the pinned CLI's
# bootstrapTemplateParameters): no trusted accounts, the template's default execution policy,
# S3's own key, public access blocked. test_localstack_bootstrap proves `cdklocal bootstrap`
# finds nothing to change after bootstrap_localstack.
NEW_BOOTSTRAP_PARAMETERS = {
    "FileAssetsBucketKmsKeyId": "AWS_MANAGED_KEY",
    "TrustedAccounts": "",
    "TrustedAccountsForLookup": "",
    "CloudFormationExecutionPolicies": "",
    "PublicAccessBlockConfiguration": "true",
}
BOOTSTRAP_DONE = "CREATE_COMPLETE"
BOOTSTRAP_HINT = "`make logs SERVICE=localstack` shows why; `make down` then `make dev` starts over"


def bootstrap_localstack(stage: str, *, region: str, endpoint: str) -> None:
    """The stage's bootstrap in LocalStack: the stack `cdklocal bootstrap` would create, created
    through CloudFormation directly. The CLI polls a new stack every 5 s, twice (change set, then
    stack), for a stack LocalStack creates in about a second: this is most of a `make dev` after
    `make down` (LocalStack forgets everything). On AWS, `bootstrap-aws` runs `cdk bootstrap`."""
    qualifier = stage_qualifier(stage)
    name = toolkit_stack_name(qualifier)
    cloudformation = aws_client("cloudformation", region=region, endpoint=endpoint)
    parameters = {**NEW_BOOTSTRAP_PARAMETERS, "Qualifier": qualifier}
    template = json.dumps(scoped_template(stock_template(), stage), separators=(",", ":"))
    try:
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=template,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        status, reason = _wait_for_creation(cloudformation, name)
    except (ClientError, BotoCoreError) as error:
        raise HangarError(
            f"creating the CDK bootstrap stack {name} in LocalStack failed: {error}",
            hint=BOOTSTRAP_HINT,
        ) from error
    if status != BOOTSTRAP_DONE:
        raise HangarError(
            f"the CDK bootstrap stack {name} ended {status}: {reason}",
            hint=BOOTSTRAP_HINT,
        )


def _wait_for_creation(cloudformation: Any, name: str, timeout: float = 120) -> tuple[str, str]:
    """The stack's final status and its reason, polled every 0.2 s."""
    deadline = time.monotonic() + timeout
    while True:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return status, stack.get("StackStatusReason", "no reason given")
        time.sleep(0.2)


def ensure_localstack_bootstrapped(stage: str, *, region: str, endpoint: str, title: str) -> None:
    """A fresh LocalStack has no bootstrap; on AWS, `make bootstrap-aws` created it once."""
    if not is_bootstrapped(stage, region=region, endpoint=endpoint):
        with step(title):
            bootstrap_localstack(stage, region=region, endpoint=endpoint)
