"""`hangar remote-shell`: a Django shell inside a running web task of a deployed stage (ECS Exec).

The session goes through AWS Systems Manager: the AWS CLI v2 (hangar.core.aws_cli) opens it with
the Session Manager plugin, neither of which pip can install (both are the user's to install); the
cluster encrypts the session and writes what was typed and printed to its audit log group
(hangar_infra.constructs.exec_audit).
"""

import argparse
import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from hangar.core import stages
from hangar.core.aws_cli import aws_cli_v2
from hangar.core.aws_clients import DEFAULT_REGION, aws_client
from hangar.core.console import info
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.stage_interface import CLUSTER_NAME, CONTAINER_NAME, WEB_SERVICE_NAME

SESSION_MANAGER_PLUGIN = "session-manager-plugin"
PLUGIN_INSTALL_URL = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-"
    "install-plugin.html"
)
DEFAULT_COMMAND = "python manage.py shell"
SERVICE_OUTPUTS = (CLUSTER_NAME, WEB_SERVICE_NAME)


def check_stage(stage: str) -> None:
    stages.check_stage(stage)
    if stage == stages.LOCAL_STAGE:
        raise HangarError(
            "remote-shell opens a shell in a task on ECS; the local stage has no ECS "
            "(LocalStack does not run tasks)",
            "for a shell in the local stack use `make shell`, or `make run-task` for the runtime "
            "image",
        )


def check_plugin(which: Any = shutil.which) -> None:
    if which(SESSION_MANAGER_PLUGIN) is None:
        raise HangarError(
            f"the AWS CLI needs the Session Manager plugin ({SESSION_MANAGER_PLUGIN}) for ECS "
            "Exec, and it is not on PATH",
            f"install it ({PLUGIN_INSTALL_URL}), then run the command again",
        )


def service_outputs(cfn: Any, stage: str) -> dict[str, str]:
    stack = contract().stack_names(stage)[-1]
    try:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as error:
        raise HangarError(
            f"cannot read stack {stack}: {error}",
            f"deploy the stage first (`make deploy STAGE={stage}`), with AWS credentials for its "
            "account",
        ) from error
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [key for key in SERVICE_OUTPUTS if key not in outputs]
    if missing:
        raise HangarError(f"stack {stack} has no output {', '.join(missing)}; redeploy the stage")
    return outputs


def running_task(ecs: Any, outputs: Mapping[str, str]) -> str:
    cluster, service = outputs[CLUSTER_NAME], outputs[WEB_SERVICE_NAME]
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")["taskArns"]
    if not arns:
        raise HangarError(
            f"no running task in service {service} of cluster {cluster}",
            "check the service in the ECS console or with `make deploy`'s watcher output",
        )
    return str(arns[0])


def execute_command(
    *, aws: str, region: str, cluster: str, task: str, command: str = DEFAULT_COMMAND
) -> list[str]:
    """The AWS CLI call that opens an interactive `command` in the task's app container."""
    return [
        aws,
        "ecs",
        "execute-command",
        f"--region={region}",
        f"--cluster={cluster}",
        f"--task={task}",
        f"--container={CONTAINER_NAME}",
        "--interactive",
        f"--command={command}",
    ]


def run_remote_shell(args: argparse.Namespace) -> int:
    check_stage(args.stage)
    aws = aws_cli_v2()
    check_plugin()
    region = os.environ.get("AWS_REGION") or DEFAULT_REGION
    outputs = service_outputs(aws_client("cloudformation", region=region), args.stage)
    task = running_task(aws_client("ecs", region=region), outputs)
    info(f"Opening `{args.command}` in {task} (ECS Exec; the session is audited)")
    command = execute_command(
        aws=aws, region=region, cluster=outputs[CLUSTER_NAME], task=task, command=args.command
    )
    return subprocess.run(command, check=False).returncode


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "remote-shell",
        help="Django shell in a running web task of a deployed stage (ECS Exec)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--stage", required=True, help=f"one of: {', '.join(stages.AWS_STAGES)}")
    parser.add_argument(
        "--command", default=DEFAULT_COMMAND, help=f"what to run (default: {DEFAULT_COMMAND})"
    )
    parser.set_defaults(func=run_remote_shell)
