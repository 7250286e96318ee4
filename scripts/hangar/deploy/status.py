"""`hangar status` (`make status STAGE=…`): a deployed stage on one screen.

Each ECS service's desired, running and pending tasks, its deployment's rollout state, the image
digest its tasks run with the git SHA of the release that shipped it (hangar.deploy.releases), and
the tasks' health; the stage's alarms in ALARM; the last deploy. The free LocalStack has no ECS:
there the services' rows say so, and the rest is read for real.
"""

import argparse
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hangar.core.console import info, step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.stage_interface import CLUSTER_NAME, WEB_SERVICE_NAME
from hangar.core.stages import STAGES
from hangar.deploy import releases
from hangar.deploy.stacks import LOCALSTACK_PLACEHOLDER
from hangar.deploy.stage_access import StageAccess, outputs, service_stack, short_digest, table


def service_outputs() -> dict[str, str]:
    """The service stack's outputs naming the ECS services, by the name status shows: the web
    service, then each declared queue's worker."""
    return {
        "web": WEB_SERVICE_NAME,
        **{f"{queue.name}-worker": queue.worker_output for queue in contract().worker_queues},
    }


NOT_EMULATED = "ECS not emulated by LocalStack (free): no tasks to show"


@dataclass(frozen=True)
class ServiceRow:
    name: str
    desired: int
    running: int
    pending: int
    rollout: str  # the PRIMARY deployment's rollout state
    digests: tuple[str, ...]  # what the running tasks run
    health: Mapping[str, int]  # task healthStatus → count


def service_row(ecs: Any, cluster: str, name: str, service_name: str) -> ServiceRow:
    described = ecs.describe_services(cluster=cluster, services=[service_name])
    if not described["services"]:
        raise HangarError(
            f"ECS has no service {service_name} in cluster {cluster}: {described.get('failures')}",
            hint="the stack's outputs name it: check the stack's state (a rollback in progress?)",
        )
    service = described["services"][0]
    primary: dict[str, Any] = next(
        (d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {}
    )
    arns = ecs.list_tasks(cluster=cluster, serviceName=service_name)["taskArns"][:100]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    digests = {
        container["imageDigest"]
        for task in tasks
        for container in task.get("containers", [])
        if container.get("imageDigest")
    }
    return ServiceRow(
        name=name,
        desired=service.get("desiredCount", 0),
        running=service.get("runningCount", 0),
        pending=service.get("pendingCount", 0),
        rollout=primary.get("rolloutState", "-"),
        digests=tuple(sorted(digests)),
        health=dict(Counter(task.get("healthStatus", "UNKNOWN") for task in tasks)),
    )


def service_rows(access: StageAccess, stack_outputs: Mapping[str, str]) -> list[ServiceRow] | str:
    """Each service's row, or why there are none (LocalStack)."""
    cluster = stack_outputs.get(CLUSTER_NAME, "")
    named = {
        name: stack_outputs[key] for name, key in service_outputs().items() if key in stack_outputs
    }
    if access.local and LOCALSTACK_PLACEHOLDER in (cluster, *named.values()):
        return NOT_EMULATED
    ecs = access.client("ecs")
    try:
        return [service_row(ecs, cluster, name, service) for name, service in named.items()]
    except (ClientError, BotoCoreError):
        if access.local:
            return NOT_EMULATED
        raise


def alarms_in_alarm(cloudwatch: Any, stage: str) -> list[dict[str, Any]]:
    """Every alarm of the stage (named by its resource prefix, or by its stack's name, which starts
    with it) that is in ALARM."""
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=f"{contract().resource_prefix(stage)}-", StateValue="ALARM"
    )
    return [alarm for page in pages for alarm in page.get("MetricAlarms", [])]


def image_cell(digests: Sequence[str], known: Mapping[str, str]) -> str:
    if not digests:
        return "-"
    return ", ".join(
        f"{short_digest(d)} = {known[d][:12] if d in known else 'no recorded release'}"
        for d in digests
    )


def health_cell(health: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {state}" for state, count in sorted(health.items())) or "no tasks"


def render(
    stack: Mapping[str, Any],
    rows: Sequence[ServiceRow] | str,
    alarms: Sequence[Mapping[str, Any]],
    recorded: Sequence[releases.Release],
) -> str:
    lines = [f"Stack {stack['StackName']}: {stack['StackStatus']}"]
    if recorded:
        last = recorded[-1]
        lines.append(
            f"Last deploy: {last.when:%Y-%m-%d %H:%M:%S} UTC, {last.sha[:12]} "
            f"({short_digest(last.digest)}) by {last.deployed_by}"
            + (" (rollback)" if last.rollback else "")
            + (f" {last.run_url}" if last.run_url else "")
        )
    else:
        lines.append("Last deploy: no release recorded (`make deploy` records each one)")
    lines.append("")
    if isinstance(rows, str):
        lines.append(f"Services: {rows}")
    else:
        known = {release.digest: release.sha for release in recorded}
        header = ["SERVICE", "DESIRED", "RUNNING", "PENDING", "ROLLOUT", "IMAGE = SHA", "TASKS"]
        cells = [
            [
                row.name,
                str(row.desired),
                str(row.running),
                str(row.pending),
                row.rollout,
                image_cell(row.digests, known),
                health_cell(row.health),
            ]
            for row in rows
        ]
        lines.append(table([header, *cells]))
    lines.append("")
    lines.append(f"Alarms in ALARM: {len(alarms) or 'none'}")
    lines += [
        f"  {alarm['AlarmName']} since {alarm['StateUpdatedTimestamp']:%Y-%m-%d %H:%M} UTC: "
        f"{alarm.get('StateReason', '')[:60]}"
        for alarm in alarms
    ]
    return "\n".join(lines)


def run_status(args: argparse.Namespace) -> int:
    access = StageAccess.resolve(args.stage, "status", os.environ)
    with step(f"Read stage {access.stage} ({access.where}): stack, services, alarms, releases"):
        stack = service_stack(access)
        rows = service_rows(access, outputs(stack))
        alarms = alarms_in_alarm(access.client("cloudwatch"), access.stage)
        recorded = releases.load(access.client("ssm"), access.stage)
    info(render(stack, rows, alarms, recorded))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="a deployed stage on one screen: tasks, rollout, image and SHA, health, alarms",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--stage", help=f"one of {', '.join(STAGES)} (required)")
    parser.set_defaults(func=run_status)
