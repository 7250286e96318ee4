"""The one way the CLI runs the CDK CLI: which CLI, its environment, the context, the bootstrap.

`synth`/`diff`/`deploy-local` (hangar.deploy.stacks), `deploy` (hangar.deploy.stage) and
`bootstrap-aws`
(hangar.aws.github_oidc) all build their command lines and run them here, so that a CDK CLI, a
context
key or the way a failure is reported changes in one place.
"""

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import ClientError

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

# LocalStack's account: cdklocal bootstraps and deploys into it.
LOCALSTACK_ACCOUNT = "000000000000"
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
    result = subprocess.run(list(command), cwd=cwd, env=env, check=False)
    if result.returncode != 0:
        raise HangarError(f"{failure} (cdk exited {result.returncode}).", hint=hint)


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


def ensure_localstack_bootstrapped(stage: str, *, region: str, endpoint: str, title: str) -> None:
    """A fresh LocalStack has no bootstrap; on AWS, `make bootstrap-aws` created it once."""
    if not is_bootstrapped(stage, region=region, endpoint=endpoint):
        with step(title):
            bootstrap(LOCALSTACK_ACCOUNT, region, endpoint, stage)
