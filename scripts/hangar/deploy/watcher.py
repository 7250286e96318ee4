"""Follow a CloudFormation deploy as it happens, and stop it when ECS tasks keep failing.

`cdk deploy` only prints CloudFormation's resource states: a service whose tasks crash, cannot pull
their image or fail the load balancer's health check just sits in CREATE_IN_PROGRESS for hours while
ECS quietly replaces them. The watcher streams the stack's events as progress lines and, while an
AWS::ECS::Service is in progress, reads ECS, the target group and the logs
(`hangar.deploy.ecs_diagnosis`).
When tasks keep failing it says why, in words, and stops the deploy so the stack rolls back.

API for `hangar deploy` / `hangar deploy-local` (run it next to the `cdk deploy` subprocess)::

    from hangar.deploy.watcher import AwsClients, Thresholds, watching

    clients = AwsClients.from_session(boto3.Session(region_name=region), endpoint_url=None)
    since = datetime.now(UTC)                    # before cdk starts: older events are not shown
    with watching(clients, ["HangarApp-dev"], since=since) as watch:
        completed = subprocess.run(cdk_deploy_command)   # cdk exits once the stack has rolled back
    for result in watch.results:                 # one WatchResult per stack, after the block
        if not result.succeeded: ...             # result.diagnosis / result.failures say why

`watch.gave_up` (a threading.Event) is set the moment a watcher stops a deploy, for a caller that
would rather not wait for cdk. Leaving the block stops the watchers after one last poll.

`watch_stack(clients, stack_name, since=...)` is the same thing in the calling thread: it returns
when the stack's operation ends (or `stop` is set). Progress goes to `on_line` (default: print).
`Thresholds(stopped_tasks=3, service_timeout=timedelta(minutes=15))` says when to give up. Giving
up on an UPDATE calls cancel_update_stack (CloudFormation rolls back to the previous template). A
CREATE has no cancel, and the watcher never deletes a stack that is being created: a delete is not
the rollback of a create. It keeps what RetainExceptOnCreate resources retain on a delete (the
fixed-name log groups, the buckets), and the retry then fails "already exists". The create is left
to the ECS deployment circuit breaker (on in Hangar's services), which fails the service after its
failed-task threshold; CloudFormation then rolls the create back, deleting all it created, and the
deploy can simply be run again.
"""

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from hangar.core.aws_clients import ACCESS_DENIED_CODES, CLIENT_CONFIG, aws_client
from hangar.deploy.ecs_diagnosis import Diagnosis, ServiceProbe
from hangar.deploy.stack_events import CONSEQUENTIAL_REASONS

Line = Callable[[str], None]
_DENIED_ACTION = re.compile(r"perform: ([A-Za-z0-9-]+:[A-Za-z0-9]+)")


def denied_action(error: ClientError) -> str | None:
    """The IAM action an AccessDenied error names (or its operation); None for other errors."""
    if error.response.get("Error", {}).get("Code") not in ACCESS_DENIED_CODES:
        return None
    match = _DENIED_ACTION.search(str(error))
    return match.group(1) if match else error.operation_name


def permission_missing_line(action: str, lost: str) -> str:
    """Said once per action: the deploy goes on, but the role lacks what the watcher needs."""
    return (
        f"!! PERMISSION MISSING: the deploy role may not call {action}, so {lost}. The deploy "
        "goes on without it. Grant it (hangar.aws.github_oidc.deploy_permissions, applied by "
        "`make bootstrap-aws`) so the next deploy is watched in full."
    )


@dataclass(frozen=True)
class AwsClients:
    cloudformation: Any
    ecs: Any
    elbv2: Any
    logs: Any

    @classmethod
    def from_session(cls, session: boto3.Session, endpoint_url: str | None = None) -> "AwsClients":
        def client(name: str) -> Any:
            return session.client(name, endpoint_url=endpoint_url, config=CLIENT_CONFIG)  # type: ignore[call-overload]

        return cls(client("cloudformation"), client("ecs"), client("elbv2"), client("logs"))

    @classmethod
    def connect(cls, *, region: str, endpoint: str | None = None) -> "AwsClients":
        """Clients for AWS itself, or for LocalStack (with its fake credentials) at `endpoint`."""
        services = ("cloudformation", "ecs", "elbv2", "logs")
        return cls(*(aws_client(name, region=region, endpoint=endpoint) for name in services))


@dataclass(frozen=True)
class Thresholds:
    """When the watcher stops waiting for an ECS service that does not become stable."""

    stopped_tasks: int = 3  # failed tasks since the deploy started
    # How long the service resource may stay in progress.
    service_timeout: timedelta = timedelta(minutes=15)
    poll_interval: float = 5.0


@dataclass(frozen=True)
class ResourceFailure:
    logical_id: str
    resource_type: str
    status: str
    reason: str

    @property
    def consequential(self) -> bool:
        """True when this resource only failed because another one did."""
        return self.reason.startswith(CONSEQUENTIAL_REASONS)


@dataclass
class WatchResult:
    stack_name: str
    status: str | None = None  # None: no stack operation started while watching (e.g. no changes)
    failures: list[ResourceFailure] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    action: str | None = None  # what the watcher did to the stack after giving up

    @property
    def succeeded(self) -> bool:
        failed = self.status is not None and ("FAILED" in self.status or "ROLLBACK" in self.status)
        return not failed and self.diagnosis is None and not self.failures

    @property
    def root_cause(self) -> ResourceFailure | None:
        """The first failure that is not a consequence of another one."""
        causes = [f for f in self.failures if not f.consequential and f.reason]
        return causes[0] if causes else (self.failures[0] if self.failures else None)


def is_terminal(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS")


def format_event(event: dict[str, Any], duration: float | None = None, prefix: str = "") -> str:
    """One progress line: '12:03:04 CREATE_COMPLETE AWS::SQS::Queue TasksQueue (3.2s)'."""
    clock = event["Timestamp"].astimezone().strftime("%H:%M:%S")
    resource = f"{event['ResourceType']} {prefix}{event['LogicalResourceId']}"
    line = f"{clock} {event['ResourceStatus']} {resource}"
    if duration is not None:
        line += f" ({duration:.1f}s)"
    reason = event.get("ResourceStatusReason")
    if reason and ("FAILED" in event["ResourceStatus"] or "ROLLBACK" in event["ResourceStatus"]):
        line += f": {reason}"
    return line


class _EventStream:
    """New events of one stack, oldest first, each once; remembers start times for durations."""

    def __init__(
        self, cloudformation: Any, stack_ref: str, since: datetime, prefix: str = ""
    ) -> None:
        self._cfn = cloudformation
        self.stack_ref = stack_ref
        self._since = since
        self.prefix = prefix
        self._seen: set[str] = set()
        self._started: dict[str, datetime] = {}

    def poll(self) -> list[dict[str, Any]]:
        fresh: list[dict[str, Any]] = []
        request = {"StackName": self.stack_ref}
        while True:
            page = self._cfn.describe_stack_events(**request)
            older = False
            page_fresh = []
            for event in page["StackEvents"]:
                if event["Timestamp"] < self._since:
                    older = True
                    break
                if event["EventId"] not in self._seen:
                    page_fresh.append(event)
            fresh += page_fresh
            # Pages run newest first: a page with nothing new, or one reaching back before the
            # deploy, is the last one worth reading.
            if older or not page_fresh or "NextToken" not in page:
                break
            request["NextToken"] = page["NextToken"]
        fresh.sort(key=lambda e: e["Timestamp"])
        self._seen.update(e["EventId"] for e in fresh)
        return fresh

    def line(self, event: dict[str, Any]) -> str:
        key = event["LogicalResourceId"]
        status = event["ResourceStatus"]
        duration = None
        if status.endswith("_IN_PROGRESS"):
            self._started.setdefault(key, event["Timestamp"])
        elif key in self._started:
            duration = (event["Timestamp"] - self._started.pop(key)).total_seconds()
        return format_event(event, duration, self.prefix)


def _missing_stack(error: ClientError) -> bool:
    return "does not exist" in str(error)


class StackWatcher:
    """The state of one watch: event streams (root and nested), ECS probes, failures, decisions."""

    def __init__(
        self,
        clients: AwsClients,
        stack_name: str,
        *,
        since: datetime,
        thresholds: Thresholds,
        on_line: Line,
        gave_up: threading.Event,
        show_events: bool = True,
    ) -> None:
        self.clients = clients
        self.show_events = show_events
        self.since = since.astimezone()  # a naive datetime means local time
        self.thresholds = thresholds
        self.on_line = on_line
        self.result = WatchResult(stack_name)
        self.root = _EventStream(clients.cloudformation, stack_name, self.since)
        self.nested: dict[str, _EventStream] = {}
        # Service ARN → its probe and the monotonic time it started.
        self.probes: dict[str, tuple[ServiceProbe, float]] = {}
        self.stack_id: str | None = None
        self._root_status: str | None = None  # status in the root stack's newest event
        self._terminal_seen = False
        self.gave_up = gave_up
        self.denied: set[str] = set()  # actions already reported as missing

    def poll(self) -> bool:
        """One round; True once the stack's operation has ended."""
        try:
            events = [(self.root, e) for e in self.root.poll()]
        except ClientError as error:
            if _missing_stack(error):
                return False  # cdk has not created it yet (or it was deleted before the deploy)
            raise
        for stream in list(self.nested.values()):
            events += [(stream, e) for e in stream.poll()]
        for stream, event in sorted(events, key=lambda pair: pair[1]["Timestamp"]):
            self._handle(stream, event)
        self._probe_services()
        return self._operation_ended()

    def _handle(self, stream: _EventStream, event: dict[str, Any]) -> None:
        if self.show_events:
            self.on_line(stream.line(event))
        status, kind = event["ResourceStatus"], event["ResourceType"]
        physical = event.get("PhysicalResourceId") or ""
        if (
            stream is self.root
            and kind == "AWS::CloudFormation::Stack"
            and physical == event["StackId"]
        ):
            self._root_event(event)
            return
        if "FAILED" in status:
            self.result.failures.append(
                ResourceFailure(
                    stream.prefix + event["LogicalResourceId"],
                    kind,
                    status,
                    event.get("ResourceStatusReason", ""),
                )
            )
        if (
            kind == "AWS::CloudFormation::Stack"
            and physical.startswith("arn:")
            and physical not in self.nested
        ):
            self.nested[physical] = _EventStream(
                self.clients.cloudformation, physical, self.since, f"{event['LogicalResourceId']}/"
            )
        if kind == "AWS::ECS::Service" and ":service/" in physical:
            if status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS") and not self.gave_up.is_set():
                if physical not in self.probes:
                    probe = ServiceProbe(
                        self.clients.ecs,
                        self.clients.elbv2,
                        self.clients.logs,
                        physical,
                        self.since,
                    )
                    self.probes[physical] = (probe, time.monotonic())
            else:
                self.probes.pop(physical, None)

    def _root_event(self, event: dict[str, Any]) -> None:
        if self.stack_id is not None and event["StackId"] != self.stack_id:
            self.nested.clear()  # cdk replaced a stack it could not update (ROLLBACK_COMPLETE)
        self.stack_id = event["StackId"]
        # Follow the stack by id from now on: after a delete its name no longer resolves.
        self.root.stack_ref = self.stack_id
        self._root_status = event["ResourceStatus"]
        if event["ResourceStatus"] == "DELETE_COMPLETE":
            # cdk deletes a stack stuck in ROLLBACK_COMPLETE, then creates it anew under its name
            # (the watcher itself never deletes a stack).
            self.root.stack_ref = self.result.stack_name

    def _operation_ended(self) -> bool:
        if self.stack_id is None:
            return False
        status = self.clients.cloudformation.describe_stacks(StackName=self.stack_id)["Stacks"][0][
            "StackStatus"
        ]
        self.result.status = status
        if not is_terminal(status) or status == "DELETE_COMPLETE":
            self._terminal_seen = False
            return False
        # The status can change before the last events are readable: end once the stack's own
        # event for it has been shown, or (should it never come) one poll later.
        ended = self._root_status == status or self._terminal_seen
        self._terminal_seen = True
        return ended

    def _probe_services(self) -> None:
        for probe, started in list(self.probes.values()):
            try:
                lines = probe.poll()
            except ClientError as error:
                if (action := denied_action(error)) is None:
                    self.on_line(
                        f"ECS {probe.name}: cannot read the service ({error}); still watching"
                    )
                    continue
                # Every later poll would be denied too: stop probing, keep following the stack.
                self.probes.pop(probe.service_arn, None)
                if action not in self.denied:
                    self.denied.add(action)
                    self.on_line(
                        permission_missing_line(
                            action, f"why {probe.name}'s tasks fail cannot be diagnosed"
                        )
                    )
                continue
            except BotoCoreError as error:
                # ECS is a diagnosis aid: losing it must not end the CloudFormation stream.
                self.on_line(f"ECS {probe.name}: cannot read the service ({error}); still watching")
                continue
            for line in lines:
                self.on_line(line)
            too_many = len(probe.failed_tasks) >= self.thresholds.stopped_tasks
            too_long = time.monotonic() - started >= self.thresholds.service_timeout.total_seconds()
            if too_many or too_long:
                self._give_up(probe, too_many)
                return

    def _give_up(self, probe: ServiceProbe, too_many: bool) -> None:
        self.gave_up.set()
        self.probes.clear()
        diagnosis = probe.diagnose()
        if diagnosis is None:
            minutes = self.thresholds.service_timeout.total_seconds() / 60
            diagnosis = Diagnosis(
                f"service {probe.name} not stable after {minutes:.0f} minutes, no task failed",
                "tasks may be waiting for capacity or the health check grace period is long: "
                "`aws ecs describe-services` shows the deployment's state",
            )
        self.result.diagnosis = diagnosis
        why = f"{len(probe.failed_tasks)} tasks failed" if too_many else "timed out"
        self.on_line(f"!! ECS service {probe.name} will not become stable ({why})")
        self.on_line(f"!! cause: {diagnosis.cause}")
        for evidence in diagnosis.evidence:
            self.on_line(f"!!   | {evidence}")
        self.on_line(f"!! hint: {diagnosis.hint}")
        self.result.action = self._stop_operation()
        self.on_line(f"!! {self.result.action}")

    def _stop_operation(self) -> str:
        cfn = self.clients.cloudformation
        stack = self.stack_id or self.result.stack_name
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if status == "CREATE_IN_PROGRESS":
            return (
                "a stack creation cannot be cancelled, and deleting the stack would keep what a "
                "rollback deletes: left to the ECS deployment circuit breaker, which fails the "
                "service after its failed-task threshold; CloudFormation then rolls the creation "
                "back and the deploy can be run again as it is"
            )
        if status != "UPDATE_IN_PROGRESS":
            return f"left the {status} stack as it is: CloudFormation is already ending it"
        try:
            cfn.cancel_update_stack(StackName=stack)
        except ClientError as error:
            return f"could not cancel the update ({error}); cancel it in the console"
        return "cancelled the update: CloudFormation rolls back to the previous version"

    def summarize(self) -> None:
        cause = self.result.root_cause
        if cause is not None and self.result.diagnosis is None:
            self.on_line(f"!! {cause.logical_id} ({cause.resource_type}) failed: {cause.reason}")


def watch_stack(
    clients: AwsClients | boto3.Session,
    stack_name: str,
    *,
    since: datetime,
    thresholds: Thresholds | None = None,
    on_line: Line = print,
    stop: threading.Event | None = None,
    gave_up: threading.Event | None = None,
    show_events: bool = True,
) -> WatchResult:
    """Stream `stack_name`'s events from `since` until its operation ends or `stop` is set.

    `gave_up`, if given, is set when the watcher stops the stack's operation. `show_events=False`
    leaves the event lines to a caller that prints them already (`cdk deploy`); the ECS diagnosis
    and the failure summary are printed either way.
    """
    if isinstance(clients, boto3.Session):
        clients = AwsClients.from_session(clients)
    thresholds = thresholds or Thresholds()
    watcher = StackWatcher(
        clients,
        stack_name,
        since=since,
        thresholds=thresholds,
        on_line=on_line,
        gave_up=gave_up or threading.Event(),
        show_events=show_events,
    )
    stop = stop or threading.Event()
    while True:
        stopping = stop.is_set()  # read before polling, so the events up to the stop are shown
        if watcher.poll() or stopping:
            break
        stop.wait(thresholds.poll_interval)
    watcher.summarize()
    return watcher.result


@dataclass
class Watch:
    """Handle of `watching()`: `gave_up` is set once a watcher stops a deploy; `results` at exit."""

    gave_up: threading.Event = field(default_factory=threading.Event)
    results: list[WatchResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def watching(
    clients: AwsClients | boto3.Session,
    stack_names: Sequence[str],
    *,
    since: datetime,
    thresholds: Thresholds | None = None,
    on_line: Line = print,
    show_events: bool = True,
) -> Iterator[Watch]:
    """Watch `stack_names` in background threads while the block runs (e.g. `cdk deploy`)."""
    if isinstance(clients, boto3.Session):
        clients = AwsClients.from_session(clients)
    watch = Watch()
    stop = threading.Event()
    silenced = threading.Event()
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            if not silenced.is_set():
                on_line(line)

    def run(name: str) -> None:
        try:
            result = watch_stack(
                clients,
                name,
                since=since,
                thresholds=thresholds,
                on_line=say,
                stop=stop,
                gave_up=watch.gave_up,
                show_events=show_events,
            )
        except (ClientError, BotoCoreError) as error:
            # The deploy itself goes on; only its commentary stops, and it says so.
            watch.errors.append(f"{name}: {error}")
            action = denied_action(error) if isinstance(error, ClientError) else None
            if action is None:
                say(f"watcher for {name} stopped: {error}")
            else:
                say(permission_missing_line(action, f"the deploy of {name} is not watched"))
            return
        watch.results.append(result)

    threads = [
        threading.Thread(target=run, args=(n,), name=f"watch-{n}", daemon=True) for n in stack_names
    ]
    for thread in threads:
        thread.start()
    try:
        yield watch
    except KeyboardInterrupt:
        # Ctrl-C (or SIGTERM): the user is leaving. Each watcher would finish its poll and make a
        # last one, seconds each when the deploy keeps LocalStack busy, and the exit waited for
        # them past its 10 s. They are daemon threads: they end with the process, silent from now.
        with lock:
            silenced.set()
        raise
    finally:
        stop.set()
        if not silenced.is_set():
            for thread in threads:
                thread.join(timeout=60)
