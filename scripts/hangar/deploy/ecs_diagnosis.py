"""Why an ECS service never becomes stable, in words: stopped tasks, target health, last log lines.

CloudFormation only says "CREATE_IN_PROGRESS" while ECS replaces failing tasks behind its back; the
facts that explain it live in three other APIs. `ServiceProbe` polls them for one service while its
resource is in progress (each poll returns new progress lines), and `ServiceProbe.diagnose()` turns
what it saw into a `Diagnosis`: the cause, what to do about it, and the evidence (for a crash, the
container's last log lines).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

HEALTH_CHECK_400_HINT = (
    "ALLOWED_HOSTS rejects the load balancer's health check — Hangar's /healthz answers before "
    "host validation; is the image older than that, or is the health check path changed?"
)
IMAGE_NOT_FOUND_HINT = (
    "the image tag isn't in ECR: push it before deploying the service stack "
    "(make deploy pushes first)"
)
SECRETS_HINT = (
    "the task execution role cannot read the task's secrets: check that the secret (or SSM "
    "parameter) exists in this account and region, that the execution role may "
    "secretsmanager:GetSecretValue / ssm:GetParameters and kms:Decrypt on it, and that the task's "
    "subnets reach Secrets Manager (NAT gateway or VPC endpoint)"
)
PULL_NETWORK_HINT = (
    "the task cannot reach ECR: its subnets need a route out (NAT gateway or public IP) or VPC "
    "endpoints for ecr.api, ecr.dkr and S3"
)
HEALTH_CHECK_TIMEOUT_HINT = (
    "the load balancer gets no answer from the container: check that the service's security group "
    "allows the load balancer's security group on the container port, that the target group's "
    "port is the port gunicorn binds, and that gunicorn binds 0.0.0.0 (not 127.0.0.1)"
)
CONTAINER_HEALTH_HINT = (
    "the container's own HEALTHCHECK fails: run the image locally and curl /healthz inside it; "
    "the command must exit 0 within the check's timeout"
)

# Tasks ECS stops on purpose (scale-in, replaced by a newer deployment) say so; these say "failed".
_FAILED_STOP_CODES = {"TaskFailedToStart", "EssentialContainerExited"}
_FAILED_REASON = re.compile(r"failed (ELB|container) health checks", re.IGNORECASE)
_HEALTH_CODES = re.compile(r"codes: \[([^\]]*)\]")
_LOG_LINES = 15


@dataclass(frozen=True)
class ContainerExit:
    name: str
    exit_code: int | None
    reason: str | None


@dataclass(frozen=True)
class StoppedTask:
    task_id: str
    task_definition_arn: str
    stopped_reason: str
    stop_code: str | None
    containers: tuple[ContainerExit, ...]

    @property
    def crashed_container(self) -> ContainerExit | None:
        """The container whose exit stopped the task (first with an exit code), if any."""
        if self.stop_code != "EssentialContainerExited":
            return None
        return next((c for c in self.containers if c.exit_code is not None), None)

    def describe(self) -> str:
        exits = [
            f"{c.name} exit {c.exit_code}" if c.exit_code is not None else f"{c.name}: {c.reason}"
            for c in self.containers
            if c.exit_code is not None or c.reason
        ]
        return self.stopped_reason + (f" ({'; '.join(exits)})" if exits else "")


@dataclass(frozen=True)
class TargetHealth:
    target: str
    state: str
    reason: str
    description: str

    def describe(self) -> str:
        detail = f" {self.reason}: {self.description}" if self.reason else ""
        return f"target {self.target} {self.state}{detail}"


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    hint: str
    evidence: tuple[str, ...] = ()


def task_failed(task: dict[str, Any]) -> bool:
    """True for a task stopped because something is wrong, not because ECS scaled or replaced it."""
    return task.get("stopCode") in _FAILED_STOP_CODES or bool(
        _FAILED_REASON.search(task.get("stoppedReason", ""))
    )


def parse_stopped_task(task: dict[str, Any]) -> StoppedTask:
    return StoppedTask(
        task_id=task["taskArn"].rsplit("/", 1)[-1],
        task_definition_arn=task["taskDefinitionArn"],
        stopped_reason=task.get("stoppedReason", "stopped without a reason"),
        stop_code=task.get("stopCode"),
        containers=tuple(
            ContainerExit(c["name"], c.get("exitCode"), c.get("reason"))
            for c in task.get("containers", [])
        ),
    )


def parse_target_health(description: dict[str, Any]) -> TargetHealth:
    target = description["Target"]
    health = description["TargetHealth"]
    return TargetHealth(
        target=f"{target['Id']}:{target.get('Port', '?')}",
        state=health.get("State", "unknown"),
        reason=health.get("Reason", ""),
        description=health.get("Description", ""),
    )


def cluster_of(service_arn: str) -> str:
    """The cluster name in a service ARN (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE)."""
    parts = service_arn.split(":", 5)[-1].split("/")
    if len(parts) != 3:
        # The short ARN format (service/SERVICE) was retired in 2021; it does not name the cluster.
        raise ValueError(f"service ARN without a cluster name: {service_arn}")
    return parts[1]


def classify(
    stopped: list[StoppedTask], unhealthy: list[TargetHealth], log_tail: "LogTail | None" = None
) -> Diagnosis | None:
    """The most specific explanation for the failures seen, or None while nothing has failed yet.

    Start-up failures come first: a task that never started cannot have answered a health check.
    """
    texts = [
        (t, t.stopped_reason + " " + " ".join(c.reason or "" for c in t.containers))
        for t in stopped
    ]
    for task, text in texts:
        if "CannotPullContainerError" in text:
            if "not found" in text or "manifest unknown" in text:
                return Diagnosis(f"image not found: {task.describe()}", IMAGE_NOT_FOUND_HINT)
            return Diagnosis(f"cannot pull the image: {task.describe()}", PULL_NETWORK_HINT)
    for task, text in texts:
        if "ResourceInitializationError" in text:
            return Diagnosis(f"task failed to start: {task.describe()}", SECRETS_HINT)
    for task in stopped:
        crashed = task.crashed_container
        if crashed is not None:
            return _crash_diagnosis(task, crashed, log_tail)
    mismatch = [t for t in unhealthy if t.reason == "Target.ResponseCodeMismatch"]
    if mismatch:
        codes = _HEALTH_CODES.search(mismatch[-1].description)
        if codes and "400" in codes.group(1).split(","):
            return Diagnosis(
                f"health check answered 400: {mismatch[-1].describe()}", HEALTH_CHECK_400_HINT
            )
        return Diagnosis(
            f"health check failed: {mismatch[-1].describe()}",
            "the app answers the health check path with an error: it must answer 200 on /healthz "
            "without the database or the Host header (curl it in `make run-image`)",
        )
    timeouts = [t for t in unhealthy if t.reason in {"Target.Timeout", "Target.FailedHealthChecks"}]
    if timeouts:
        return Diagnosis(
            f"health check got no answer: {timeouts[-1].describe()}", HEALTH_CHECK_TIMEOUT_HINT
        )
    for task in stopped:
        if "container health checks" in task.stopped_reason:
            return Diagnosis(f"task stopped: {task.describe()}", CONTAINER_HEALTH_HINT)
        if "ELB health checks" in task.stopped_reason:
            return Diagnosis(
                f"task stopped: {task.describe()}",
                "the load balancer marked the task unhealthy before its reason was captured: "
                "run `aws elbv2 describe-target-health` on the service's target group",
            )
    if stopped:
        return Diagnosis(
            f"tasks keep stopping: {stopped[-1].describe()}",
            "see `aws ecs describe-tasks --cluster CLUSTER --tasks TASK` for the full story",
        )
    return None


@dataclass(frozen=True)
class LogTail:
    group: str
    stream: str
    lines: tuple[str, ...]
    error: str | None = None


def _crash_diagnosis(
    task: StoppedTask, crashed: ContainerExit, log_tail: LogTail | None
) -> Diagnosis:
    cause = f"essential container {crashed.name} exited (exit code {crashed.exit_code})"
    if crashed.exit_code == 0:
        cause += ": its command finished, but a service's container must keep running"
    if log_tail is None:
        return Diagnosis(
            cause,
            "the container crashed at start; its task definition has no awslogs driver, so run the "
            "image locally with the task's environment to see its output",
        )
    where = f"the log group {log_tail.group} (stream {log_tail.stream})"
    evidence: tuple[str, ...] = log_tail.lines or ("(the log stream is empty)",)
    if log_tail.error:
        evidence = (f"(could not read the log: {log_tail.error})",)
    return Diagnosis(cause, f"the container crashed at start: look at {where}", evidence)


@dataclass
class ServiceProbe:
    """Polls ECS, ELBv2 and CloudWatch Logs about one service whose stack resource is in progress.

    `ecs`, `elbv2` and `logs` are boto3 clients; `since` (timezone-aware) hides the events and tasks
    of earlier deploys.
    """

    ecs: Any
    elbv2: Any
    logs: Any
    service_arn: str
    since: datetime
    failed_tasks: list[StoppedTask] = field(default_factory=list)
    target_health: dict[str, TargetHealth] = field(default_factory=dict)
    # Targets of stopped tasks get deregistered: keep every unhealthy verdict seen.
    unhealthy_history: list[TargetHealth] = field(default_factory=list)
    _seen_events: set[str] = field(default_factory=set)
    _seen_tasks: set[str] = field(default_factory=set)

    @property
    def cluster(self) -> str:
        return cluster_of(self.service_arn)

    @property
    def name(self) -> str:
        return self.service_arn.rsplit("/", 1)[-1]

    def poll(self) -> list[str]:
        """Read what changed since the last poll; returns progress lines to show the user."""
        described = self.ecs.describe_services(cluster=self.cluster, services=[self.service_arn])
        if not described["services"]:
            return []
        service = described["services"][0]
        lines = self._new_service_events(service)
        lines += self._new_failed_tasks()
        for balancer in service.get("loadBalancers", []):
            if "targetGroupArn" in balancer:
                lines += self._target_health_changes(balancer["targetGroupArn"])
        return lines

    def diagnose(self) -> Diagnosis | None:
        crashed = next((t for t in self.failed_tasks if t.crashed_container), None)
        log_tail = self._log_tail(crashed) if crashed else None
        return classify(self.failed_tasks, self.unhealthy_history, log_tail)

    def _new_service_events(self, service: dict[str, Any]) -> list[str]:
        fresh = [
            e
            for e in service.get("events", [])
            if e["id"] not in self._seen_events and e["createdAt"] >= self.since
        ]
        self._seen_events.update(e["id"] for e in fresh)
        return [f"ECS {self.name}: {e['message']}" for e in reversed(fresh)]

    def _new_failed_tasks(self) -> list[str]:
        arns = self.ecs.list_tasks(
            cluster=self.cluster, serviceName=self.name, desiredStatus="STOPPED"
        )["taskArns"]
        unseen = [arn for arn in arns if arn not in self._seen_tasks]
        if not unseen:
            return []
        self._seen_tasks.update(unseen)
        # describe_tasks takes at most 100 tasks per call.
        tasks = [
            task
            for start in range(0, len(unseen), 100)
            for task in self.ecs.describe_tasks(
                cluster=self.cluster, tasks=unseen[start : start + 100]
            )["tasks"]
        ]
        lines = []
        for task in sorted(tasks, key=lambda t: t["createdAt"]):
            if task["createdAt"] < self.since or not task_failed(task):
                continue
            stopped = parse_stopped_task(task)
            self.failed_tasks.append(stopped)
            lines.append(f"ECS {self.name}: task {stopped.task_id} stopped: {stopped.describe()}")
        return lines

    def _target_health_changes(self, target_group_arn: str) -> list[str]:
        response = self.elbv2.describe_target_health(TargetGroupArn=target_group_arn)
        lines = []
        for description in response["TargetHealthDescriptions"]:
            health = parse_target_health(description)
            if self.target_health.get(health.target) != health:
                self.target_health[health.target] = health
                lines.append(f"ALB {health.describe()}")
                if health.state == "unhealthy":
                    self.unhealthy_history.append(health)
        return lines

    def _log_tail(self, task: StoppedTask) -> LogTail | None:
        crashed = task.crashed_container
        assert crashed is not None
        try:
            definition = self.ecs.describe_task_definition(taskDefinition=task.task_definition_arn)
        except (ClientError, BotoCoreError) as error:
            return LogTail(
                "(the task definition's awslogs-group)",
                f"PREFIX/{crashed.name}/{task.task_id}",
                (),
                error=f"cannot read the task definition: {error}",
            )
        container = next(
            (
                c
                for c in definition["taskDefinition"]["containerDefinitions"]
                if c["name"] == crashed.name
            ),
            None,
        )
        log_config = (container or {}).get("logConfiguration", {})
        if log_config.get("logDriver") != "awslogs":
            return None
        options = log_config.get("options", {})
        group = options["awslogs-group"]
        if "awslogs-stream-prefix" not in options:
            # Without a prefix the stream is named after the Docker container id, which ECS hides.
            return LogTail(
                group, "?", (), error="no awslogs-stream-prefix: the stream name is unknown"
            )
        # The awslogs driver names streams PREFIX/CONTAINER/TASK_ID.
        stream = f"{options['awslogs-stream-prefix']}/{crashed.name}/{task.task_id}"
        try:
            events = self.logs.get_log_events(
                logGroupName=group, logStreamName=stream, limit=_LOG_LINES, startFromHead=False
            )["events"]
        except (ClientError, BotoCoreError) as error:
            return LogTail(group, stream, (), error=str(error))
        return LogTail(group, stream, tuple(e["message"].rstrip() for e in events))
