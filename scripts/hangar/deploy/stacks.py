"""`hangar synth`, `diff`, `cfn-execution-policy`: the CDK app in infra/ for each stage, and the
CDK CLI run on it (hangar.deploy.local_stage deploys the `local` stage with it)."""

import argparse
import json
import os
from pathlib import Path
from typing import Any

from hangar.aws import execution_policy
from hangar.cdk import driver as cdk
from hangar.core.aws_clients import DEFAULT_REGION
from hangar.core.console import info, step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.git import head_commit
from hangar.core.paths import ROOT
from hangar.core.stages import HTTPS_REQUIRED_STAGES, LOCAL_STAGE, STAGES, check_stage
from hangar.localstack.endpoint import configured_endpoint, require_localstack

# `hangar synth` checks the templates; it deploys nothing, so a stage that cannot synthesize without
# a certificate gets this well-formed stand-in when none is given (and says so).
PLACEHOLDER_CERTIFICATE_ARN = (
    f"arn:aws:acm:{DEFAULT_REGION}:000000000000:certificate/00000000-0000-0000-0000-000000000000"
)
ASSEMBLY_DIR = ROOT / "cdk.out"
# What LocalStack's CloudFormation returns for Ref/GetAtt of a resource type it only pretends to
# create (ELBv2, ECS, RDS in the free edition); never a usable value.
LOCALSTACK_PLACEHOLDER = "unknown"


# --- CDK CLI -------------------------------------------------------------------------------------


def synth_certificate(stage: str, certificate_arn: str | None) -> str | None:
    """The certificate `hangar synth` uses for `stage`: the given one except for local (which
    serves HTTP only), the placeholder where the stage requires HTTPS and none was given."""
    if stage == LOCAL_STAGE:
        return None
    if not certificate_arn and stage in HTTPS_REQUIRED_STAGES:
        return PLACEHOLDER_CERTIFICATE_ARN
    return certificate_arn or None


def run_cdk(
    arguments: list[str], *, endpoint: str | None, failure: str, app: str | None = None
) -> None:
    """Run the CDK CLI on `app`: by default the CDK app itself (synthesized on the way), or an
    assembly directory synthesized before."""
    cdk.run(
        [cdk.cli(endpoint is not None), *arguments, "--app", app or cdk.app(), "--no-notices"],
        region=DEFAULT_REGION,
        endpoint=endpoint,
        failure=failure,
        hint=_failure_hint(endpoint),
    )


def _failure_hint(endpoint: str | None) -> str:
    return "read the CDK output above" + (
        f"; LocalStack's log: make localstack-logs ({endpoint})" if endpoint else ""
    )


def synth(stages: list[str], image_tag: str, certificate_arn: str | None = None) -> None:
    """Synthesize each stage (cdk-nag runs in the app) into cdk.out/<stage>.

    `certificate_arn` gives every non-local stage an HTTPS listener; without it they synthesize
    HTTP-only, except the stages that require HTTPS, which get PLACEHOLDER_CERTIFICATE_ARN.
    """
    for stage in stages:
        certificate = synth_certificate(stage, certificate_arn)
        if certificate == PLACEHOLDER_CERTIFICATE_ARN:
            info(
                f"stage {stage} requires HTTPS: synthesizing it with a placeholder certificate "
                "(pass --certificate-arn or CERTIFICATE_ARN to use yours)"
            )
        with step(f"cdk synth stage {stage} → cdk.out/{stage}"):
            run_cdk(
                [
                    "synth",
                    *cdk.context(
                        stage,
                        imageTag=None if stage == LOCAL_STAGE else image_tag,
                        certificateArn=certificate,
                    ),
                    "--output",
                    str(ASSEMBLY_DIR / stage),
                    "--quiet",
                ],
                endpoint=None,
                failure=f"synth of stage {stage} failed",
            )


def diff(
    stage: str, image_tag: str | None, endpoint: str | None, certificate_arn: str | None = None
) -> None:
    run_cdk(
        [
            "diff",
            f"{contract().resource_prefix(stage)}/*",
            *cdk.context(stage, imageTag=image_tag, certificateArn=certificate_arn),
            "--output",
            str(ASSEMBLY_DIR / stage),
        ],
        endpoint=endpoint,
        failure=f"diff of stage {stage} failed",
    )


# --- LocalStack ----------------------------------------------------------------------------------


def stack_template(assembly: Path, stack_name: str) -> dict[str, Any]:
    """The template of the stack named `stack_name` in a cloud assembly (the Stage's nested one)."""
    for manifest in assembly.rglob("manifest.json"):
        for artifact in json.loads(manifest.read_text()).get("artifacts", {}).values():
            properties = artifact.get("properties", {})
            if artifact.get("type") == "aws:cloudformation:stack" and (
                properties.get("stackName") == stack_name
            ):
                template: dict[str, Any] = json.loads(
                    (manifest.parent / properties["templateFile"]).read_text()
                )
                return template
    raise HangarError(
        f"{assembly} holds no template for {stack_name}.",
        hint="synthesize the stage again (make synth)",
    )


# --- CLI -----------------------------------------------------------------------------------------


def _endpoint() -> str:
    return configured_endpoint().url


def _cmd_cfn_execution_policy(args: argparse.Namespace) -> int:
    """Synthesize every stage, then write the execution policy their resource types need."""
    synth(list(STAGES), head_commit())
    templates = sorted(
        path for stage in STAGES for path in (ASSEMBLY_DIR / stage).glob("**/*.template.json")
    )
    policy = execution_policy.execution_policy(execution_policy.resource_types(templates))
    execution_policy.POLICY_FILE.write_text(execution_policy.render(policy))
    info(f"wrote {execution_policy.POLICY_FILE.relative_to(ROOT)} from {len(templates)} templates")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    stages = [check_stage(args.stage)] if args.stage else list(STAGES)
    synth(stages, args.image_tag or head_commit(), args.certificate_arn)
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    stage = check_stage(args.stage)
    if stage == LOCAL_STAGE:
        endpoint = _endpoint()
        require_localstack(endpoint)
        diff(stage, None, endpoint)
    else:
        diff(stage, args.image_tag or head_commit(), None, args.certificate_arn)
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    image_tag_help = "image tag for non-local stages (default: the checked-out git commit)"
    certificate_help = (
        "ACM certificate ARN for the HTTPS listener of non-local stages (default: "
        "$CERTIFICATE_ARN; without it they are HTTP-only"
    )
    synth_parser = subparsers.add_parser(
        "synth", help="synthesize every stage (or --stage) with cdk-nag into cdk.out/<stage>"
    )
    synth_parser.add_argument("--stage", help=f"one of {', '.join(STAGES)} (default: all)")
    synth_parser.add_argument("--image-tag", help=image_tag_help)
    synth_parser.add_argument(
        "--certificate-arn",
        default=os.environ.get("CERTIFICATE_ARN") or None,
        help=certificate_help + ", and prod uses a placeholder)",
    )
    synth_parser.set_defaults(func=_cmd_synth)

    subparsers.add_parser(
        "cfn-execution-policy",
        help="regenerate infra/cfn-execution-policy.json from the synthesized stacks",
        description=(execution_policy.__doc__ or "").split("\n\n")[0],
    ).set_defaults(func=_cmd_cfn_execution_policy)

    diff_parser = subparsers.add_parser(
        "diff", help="what a deploy would change (local: LocalStack; others: your AWS account)"
    )
    diff_parser.add_argument("--stage", required=True, help=f"one of {', '.join(STAGES)}")
    diff_parser.add_argument("--image-tag", help=image_tag_help)
    diff_parser.add_argument(
        "--certificate-arn",
        default=os.environ.get("CERTIFICATE_ARN") or None,
        help=certificate_help + "; prod needs it)",
    )
    diff_parser.set_defaults(func=_cmd_diff)
