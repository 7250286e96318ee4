"""The CDK CLI for one stage's deploy: synthesize the stage once, deploy its registry and service
stacks from that cloud assembly (the watcher beside each), read what is deployed now; and step 4,
the service stack on its first create and on an update (deletion protection).
"""

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from hangar.cdk import driver as cdk
from hangar.cdk.bootstrap_template import stage_qualifier, toolkit_stack_name
from hangar.core import stage_interface
from hangar.core.console import step
from hangar.core.errors import HangarError
from hangar.deploy.stacks import stack_template
from hangar.deploy.stage_target import Target
from hangar.deploy.watcher import AwsClients, watching


def cdk_environment(target: Target) -> dict[str, str]:
    return cdk.environment(region=target.region, endpoint=target.endpoint)


def cdk_synth_command(target: Target, assembly: Path) -> list[str]:
    """Every context value goes in here: both stacks are deployed from this one assembly."""
    context = cdk.context(
        target.stage,
        imageTag=target.image_tag,
        imageDigest=target.image_digest,
        certificateArn=target.certificate_arn,
        alarmSubscription=target.alarm_subscription,
    )
    command = [cdk.cli(target.local), "synth", "--app", cdk.app(), *context]
    return [*command, "--output", str(assembly), "--quiet"]


def cdk_deploy_command(
    target: Target,
    assembly: Path,
    stack: str,
    outputs_file: Path,
    parameters: Mapping[str, str] | None = None,
) -> list[str]:
    """`parameters` set the stack's CloudFormation parameters; the others keep their values."""
    command = [
        cdk.cli(target.local),
        "deploy",
        "--app",
        str(assembly),
        target.stack_path(stack),
        "--exclusively",
        "--require-approval",
        "never",
        "--outputs-file",
        str(outputs_file),
        "--progress",
        "events",
        # The stage's own bootstrap (another stage's may share the account): what the CLI falls
        # back to when it looks the toolkit up.
        "--toolkit-stack-name",
        toolkit_stack_name(stage_qualifier(target.stage)),
        *(f"--parameters={name}={value}" for name, value in (parameters or {}).items()),
    ]
    if os.environ.get("CI") == "true":
        command.append("--ci")
    return command


def run_cdk(target: Target, command: list[str], failure: str) -> None:
    cdk.run(
        command,
        region=target.region,
        endpoint=target.endpoint,
        failure=failure,
        hint="read the CDK output above (an account that was never bootstrapped needs "
        "`make bootstrap-aws` once; a failed stack update has been rolled back)",
    )


def cdk_synth(target: Target, assembly: Path) -> None:
    """Synthesize the stage once (with cdk-nag); both stack deploys reuse this cloud assembly."""
    run_cdk(
        target, cdk_synth_command(target, assembly), f"cdk synth of stage {target.stage} failed"
    )


def cdk_deploy(
    target: Target, assembly: Path, stack: str, parameters: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Deploy one of the stage's stacks from the synthesized assembly; returns its outputs."""
    outputs_file = assembly.parent / f"{stack}-outputs.json"
    command = cdk_deploy_command(target, assembly, stack, outputs_file, parameters)
    clients = AwsClients.connect(region=target.region, endpoint=target.endpoint)
    # cdk prints the stack's events; the watcher adds what ECS and the load balancer say about
    # failing tasks, and stops a deploy that cannot succeed instead of letting it hang for hours.
    with watching(clients, [target.stack_name(stack)], since=datetime.now(UTC), show_events=False):
        run_cdk(target, command, f"cdk deploy {target.stack_path(stack)} failed")
    content = json.loads(outputs_file.read_text()) if outputs_file.exists() else {}
    return dict(content.get(target.stack_name(stack), {}))


def deployed_outputs(target: Target, stack: str) -> dict[str, str]:
    """Outputs of the stack as deployed now; {} before its first deploy."""
    cfn = target.client("cloudformation")
    try:
        stacks = cfn.describe_stacks(StackName=target.stack_name(stack))["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return {}
        raise HangarError(f"cannot read stack {target.stack_name(stack)}: {error}") from error
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def deploy_service(target: Target, assembly: Path, image: str, *, created: bool) -> dict[str, str]:
    """Step 4, the service stack. Where it protects resources from deletion (its DeletionProtection
    parameter, hangar.core.stage_interface), the protection is on for every deploy of a stack
    that exists, and turned on right after its first create completed: during that create it is
    off, so that a create that fails can delete what it made and be retried."""
    stack_name = target.stack_name("Service")
    protects = stage_interface.DELETION_PROTECTION in stack_template(assembly, stack_name).get(
        "Parameters", {}
    )
    protection = {stage_interface.DELETION_PROTECTION: "true"} if protects else {}
    listener = f"HTTPS with {target.certificate_arn}" if target.certificate_arn else "HTTP only"
    with step(f"4/5 Deploy {target.stack_path('Service')} with image {image}, {listener}"):
        outputs = cdk_deploy(target, assembly, "Service", protection if created else {})
    if protects and not created:
        with step(f"4/5 Turn on deletion protection: {stack_name}'s first create completed"):
            outputs = cdk_deploy(target, assembly, "Service", protection)
    return outputs
