"""`hangar rollback`: run a release deployed before again, without a rebuild.

The target is a recorded release (hangar.deploy.releases): the previous one by default, or the one
of `--to <sha>`. It must have come with CI's scan (except on the local stage), its image must still
be in the stage's registry, and its code must know every migration the database has applied;
otherwise nothing changes. Then the deploy's service stack step runs with that image digest
(hangar.deploy.stage.redeploy), with the infrastructure code of the checkout, and the rollback is
recorded as a release of its own.
"""

import argparse
import os
from typing import Any

from hangar.core.console import info, step
from hangar.core.errors import HangarError
from hangar.core.stages import LOCAL_STAGE, STAGES
from hangar.deploy import releases
from hangar.deploy import stage as deploy
from hangar.deploy.stage_access import StageAccess
from hangar.deploy.stage_target import Target, resolve_certificate_arn


def check_scanned(target: releases.Release, stage: str) -> None:
    if not target.scanned and stage != LOCAL_STAGE:
        raise HangarError(
            f"refusing to roll {stage} back to {target.sha[:12]}: its image was deployed without "
            "CI's scan report (a laptop build), and an image nobody scanned never ships.",
            hint="pick a release that CI deployed (SCANNED yes in make releases), or deploy a fix",
        )


def choose(ssm: Any, stage: str, to: str | None) -> tuple[releases.Release, releases.Release]:
    """The running release and the one to roll back to, checked; raises before anything changes."""
    with step(f"Read the releases of stage {stage}"):
        recorded = releases.load(ssm, stage)
    running = releases.current(recorded, stage)
    target = releases.rollback_target(recorded, stage, to)
    releases.check_migrations(target, recorded, stage)
    check_scanned(target, stage)
    return running, target


def run_rollback(args: argparse.Namespace) -> int:
    access = StageAccess.resolve(args.stage, "rollback", os.environ)
    running, release = choose(access.client("ssm"), access.stage, args.to)
    info(
        f"Rolling stage {access.stage} ({access.where}) back from {running.sha[:12]} to "
        f"{release.sha[:12]} ({release.digest}), deployed {release.deployed_at} by "
        f"{release.deployed_by}"
    )
    target = Target(
        stage=access.stage,
        image_tag=release.sha,
        region=access.region,
        endpoint=access.endpoint,
        certificate_arn=resolve_certificate_arn(access.stage, args.certificate_arn),
        image_digest=release.digest,
        alarm_subscription=(args.alarm_subscription or "").strip() or None,
    )
    summary = deploy.redeploy(target)
    deploy.record_release(
        target,
        releases.new_release(
            release.sha,
            release.digest,
            scanned=release.scanned,
            environ=os.environ,
            migrations=release.migrations,
            rollback=True,
        ),
    )
    deploy.write_github_summary(summary, os.environ)
    info(f"Rolled {access.stage} back to {release.sha[:12]}: {summary['url'] or 'no service URL'}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="redeploy a release deployed before (the previous one, or --to <sha>), no rebuild",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--stage", help=f"one of {', '.join(STAGES)} (required)")
    parser.add_argument("--to", help="SHA (or its first 7+ characters) of the release to run")
    parser.add_argument(
        "--certificate-arn",
        default=os.environ.get("CERTIFICATE_ARN") or None,
        help="the stage's ACM certificate, as for `hangar deploy` (default: $CERTIFICATE_ARN)",
    )
    parser.add_argument(
        "--alarm-subscription",
        default=os.environ.get("ALARM_SUBSCRIPTION") or None,
        help="as for `hangar deploy` (default: $ALARM_SUBSCRIPTION)",
    )
    parser.set_defaults(func=run_rollback)
