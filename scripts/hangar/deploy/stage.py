"""`hangar deploy`: ship one immutable image tag to one stage, the same from a laptop and from CI.

1. deploy the stage's registry stack (the ECR repository exists before an image is pushed);
2. push the commit's runtime image as `<repository>:<tag>` and read its digest back
   (hangar.deploy.stage_image; CI hands over the OCI archive it built and scanned,
   `--image-archive`; a laptop builds one for the pinned platform with buildx). A tag that is
   already there is reused, never rebuilt: tags are immutable, and a rollback by hand redeploys
   the image pushed before; with CI's archive only if it holds that very image (an image nobody
   scanned never ships);
3. run the migrations as a one-off ECS task with the *new* image, failing on a non-zero exit
   (hangar.deploy.stage_migrations);
4. deploy the service stack with `-c imageDigest=<digest>`: the task definitions name the image by
   digest, exactly what was pushed (ECS's circuit breaker rolls back a bad one); deletion
   protection comes on once the stack's first create completed (hangar.deploy.stage_cdk
   `deploy_service`, beside the other CDK CLI calls);
5. smoke-test the health and readiness paths ([tool.hangar]) through the load balancer
   (hangar.deploy.stage_smoke_test).

The inputs are checked before anything changes (hangar.deploy.stage_target).

`--certificate-arn` (or CERTIFICATE_ARN) gives the load balancer an HTTPS listener with that ACM
certificate (`-c certificateArn=`); without it the stage is served over HTTP only, which the `prod`
stage refuses.

Against LocalStack (`--local` or LOCALSTACK_ENDPOINT) the same steps run with cdklocal; those that
need a service the free LocalStack does not emulate (ECS, ELBv2) are skipped, saying so; the image
goes to the local OCI-layout registry that stands in for ECR (see hangar.deploy.image).
"""

import argparse
import dataclasses
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hangar.cdk import driver as cdk
from hangar.core import stage_interface
from hangar.core.aws_clients import DEFAULT_REGION, caller_region
from hangar.core.console import info, step, warn
from hangar.core.contract import contract
from hangar.core.stages import LOCAL_STAGE, STAGES
from hangar.deploy import (
    declared_secrets,
    releases,
    stage_cdk,
    stage_image,
    stage_migrations,
    stage_smoke_test,
)
from hangar.deploy import image as image_module
from hangar.deploy.stage_access import resolve_endpoint
from hangar.deploy.stage_target import (
    Target,
    check_commit_matches,
    resolve_certificate_arn,
    resolve_image_archive,
    resolve_image_tag,
    resolve_stage,
    skippable,
)


def deploy(target: Target) -> dict[str, str]:
    """Run the five steps; returns what the job summary shows."""
    if target.endpoint is not None:
        cdk.ensure_localstack_bootstrapped(
            target.stage,
            region=target.region,
            endpoint=target.endpoint,
            title="0/5 cdk bootstrap (this LocalStack has not been bootstrapped)",
        )
    with tempfile.TemporaryDirectory(prefix="hangar-deploy-") as scratch:
        assembly = Path(scratch) / "cdk.out"
        with step(f"Synthesize stage {target.stage} (cdk-nag checks included)"):
            stage_cdk.cdk_synth(target, assembly)
        return deploy_stacks(target, assembly)


def deploy_stacks(target: Target, assembly: Path) -> dict[str, str]:
    with step(f"1/5 Deploy the registry stack {target.stack_path('Registry')}"):
        registry = stage_cdk.cdk_deploy(target, assembly, "Registry")
    digest = skippable(
        f"2/5 Push the runtime image :{target.image_tag} and read its digest back",
        lambda: stage_image.push_image(target, registry),
    )
    image = None
    if digest:
        target = dataclasses.replace(target, image_digest=digest)
        repository = (
            image_module.Registry.local(target.stage).repository
            if target.local
            else registry[stage_interface.REPOSITORY_URI]
        )
        image = f"{repository}@{digest}"
        assembly = assembly.parent / "cdk.out.by-digest"
        with step(f"Synthesize stage {target.stage} again, with the image by digest {digest}"):
            stage_cdk.cdk_synth(target, assembly)
    # Migrations run with the new image before it serves traffic; on a stage's first deploy there is
    # no database until the service stack has created it, so they run right after that instead.
    deployed_service = stage_cdk.deployed_outputs(target, "Service")
    first_deploy = not deployed_service
    if image and not first_deploy:
        skippable(
            "3/5 Run the migrations with the new image",
            lambda: stage_migrations.run_migrations(target, deployed_service, image),
        )
    service = stage_cdk.deploy_service(
        target, assembly, image or target.image_tag, created=not first_deploy
    )
    if image and first_deploy:
        skippable(
            "3/5 Run the migrations (first deploy of this stage)",
            lambda: stage_migrations.run_migrations(target, service, image),
        )
    if not image:
        warn("skipped: 3/5 migrations, which run the pushed image (step 2 was skipped)")
    app = contract()
    skippable(
        f"5/5 Smoke-test {app.health_path} and {app.readiness_path}",
        lambda: stage_smoke_test.smoke_test(target, service),
    )
    if digest:
        record_release(
            target,
            releases.new_release(
                target.image_tag,
                digest,
                scanned=target.image_archive is not None,
                environ=os.environ,
            ),
        )
    return {
        "stage": target.stage,
        "image tag": target.image_tag,
        "image": image or "not pushed (see step 2)",
        "platform": image_module.image_platform(),
        "certificate": target.certificate_arn or "none: HTTP only",
        "url": service.get(stage_interface.SERVICE_URL, ""),
    }


def record_release(target: Target, release: releases.Release) -> None:
    """What `hangar releases` lists and `hangar rollback` goes back to (hangar.deploy.releases)."""
    with step(f"Record release {release.sha[:12]} in SSM"):
        name = releases.record(target.client("ssm"), target.stage, release)
        info(f"{name}: {release.digest}, by {release.deployed_by}")


def redeploy(target: Target) -> dict[str, str]:
    """A rollback: the service stack step with an image deployed before (`target.image_digest`),
    still in the stage's registry; no build, no push, no migrations (hangar.deploy.rollback
    refused a release whose migrations are behind the database's)."""
    assert target.image_digest is not None
    registry_outputs = stage_cdk.deployed_outputs(target, "Registry")
    with step(f"Check that the registry still holds {target.image_tag} = {target.image_digest}"):
        repository = stage_image.image_in_registry(target, registry_outputs)
    image = f"{repository}@{target.image_digest}"
    with tempfile.TemporaryDirectory(prefix="hangar-rollback-") as scratch:
        assembly = Path(scratch) / "cdk.out"
        with step(
            f"Synthesize stage {target.stage} with the image by digest {target.image_digest}"
        ):
            stage_cdk.cdk_synth(target, assembly)
        service = stage_cdk.deploy_service(target, assembly, image, created=True)
    app = contract()
    skippable(
        f"Smoke-test {app.health_path} and {app.readiness_path}",
        lambda: stage_smoke_test.smoke_test(target, service),
    )
    return {
        "stage": target.stage,
        "image tag": target.image_tag,
        "image": image,
        "url": service.get(stage_interface.SERVICE_URL, ""),
    }


def write_github_summary(summary: Mapping[str, str], environ: Mapping[str, str]) -> None:
    """In GitHub Actions: job summary and step outputs (url, image-tag); elsewhere nothing."""
    if summary_path := environ.get("GITHUB_STEP_SUMMARY"):
        rows = "".join(f"| {key} | {value or '-'} |\n" for key, value in summary.items())
        with open(summary_path, "a", encoding="utf-8") as handle:
            handle.write(f"## Deployed {summary['stage']}\n\n| | |\n| --- | --- |\n{rows}")
    if output_path := environ.get("GITHUB_OUTPUT"):
        with open(output_path, "a", encoding="utf-8") as handle:
            handle.write(f"url={summary['url']}\nimage-tag={summary['image tag']}\n")


def run_deploy(args: argparse.Namespace) -> int:
    args.stage = resolve_stage(args.stage)
    endpoint = resolve_endpoint(args.stage, args.local, os.environ)
    target = Target(
        stage=args.stage,
        image_tag=resolve_image_tag(args.stage, args.image_tag, local=endpoint is not None),
        # LocalStack serves any region; on AWS the caller's must be the one the stacks are for.
        region=DEFAULT_REGION if endpoint else caller_region(os.environ),
        endpoint=endpoint,
        certificate_arn=resolve_certificate_arn(args.stage, args.certificate_arn),
        image_archive=resolve_image_archive(args.image_archive, args.scan_report),
        alarm_subscription=(args.alarm_subscription or "").strip() or None,
    )
    if target.image_tag != LOCAL_STAGE:
        check_commit_matches(target.image_tag)
    where = f"LocalStack at {endpoint}" if endpoint else f"AWS {target.region}"
    info(f"Deploying stage {target.stage} with image tag {target.image_tag} to {where}")
    if target.certificate_arn:
        info(f"HTTPS on the load balancer with certificate {target.certificate_arn}")
    elif target.stage != LOCAL_STAGE:
        warn(
            f"no certificate (CERTIFICATE_ARN): stage {target.stage} is served over HTTP only, "
            "and the app is told so (no HTTPS redirect, no Secure cookies)"
        )
    if target.stage != LOCAL_STAGE and not target.alarm_subscription:
        warn(
            f"no ALARM_SUBSCRIPTION: stage {target.stage}'s alarms reach nobody; pass an e-mail "
            "address or an https:// endpoint (docs/infra.md, Monitoring)"
        )
    # Before anything changes: without a value for each declared secret no task could start.
    declared_secrets.require_values(target.client("secretsmanager"), target.stage)
    summary = deploy(target)
    write_github_summary(summary, os.environ)
    info(f"Deployed {target.stage} ({target.image_tag}): {summary['url'] or 'no service URL'}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="deploy a stage: registry stack, image push, migrations, service stack, smoke test",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--stage", help=f"one of {', '.join(STAGES)} (required)")
    parser.add_argument(
        "--image-tag",
        default=os.environ.get("IMAGE_TAG") or None,
        help="immutable image tag, the git SHA (default: $IMAGE_TAG); required except for local",
    )
    parser.add_argument(
        "--certificate-arn",
        default=os.environ.get("CERTIFICATE_ARN") or None,
        help="ACM certificate ARN for an HTTPS listener (default: $CERTIFICATE_ARN); without it "
        "the stage is served over HTTP only. Required for prod, refused for local",
    )
    parser.add_argument(
        "--image-archive",
        type=Path,
        default=os.environ.get("IMAGE_ARCHIVE") or None,
        help="OCI archive of the image to push (default: $IMAGE_ARCHIVE; CI's built and scanned "
        "image); without it the image is built here for the pinned platform",
    )
    parser.add_argument(
        "--scan-report",
        type=Path,
        default=os.environ.get("SCAN_REPORT") or None,
        help="Trivy JSON report of --image-archive (default: $SCAN_REPORT); required with it",
    )
    parser.add_argument(
        "--alarm-subscription",
        default=os.environ.get("ALARM_SUBSCRIPTION") or None,
        help="e-mail address or https:// endpoint that receives the stage's alarms "
        "(default: $ALARM_SUBSCRIPTION)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="deploy into LocalStack with cdklocal (implied by LOCALSTACK_ENDPOINT)",
    )
    parser.set_defaults(func=run_deploy)
