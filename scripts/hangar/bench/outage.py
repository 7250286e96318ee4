"""A dependency outage under load, for `make bench`: what uploading clients and the load balancer's
health check get from the runtime task while LocalStack is paused, and after it returns.

Clients upload small files to the app's `[tool.hangar.bench] upload-path` in a loop, with the
session its seed command made (a short pause after each refusal: they retry sooner than
Retry-After asks, so the outage gets many requests) while a prober asks `/healthz` as the ALB
does. The dependency is paused for `outage_seconds` after a warm-up. What the figures say:

- the p99 latency of the uploads that started and ended inside the outage (target ≤ 2 s), and how
  many of them were answered 503 with Retry-After (target: all);
- how long after the dependency returned the first upload succeeded (target ≤ 2 s);
- whether `/healthz` answered 200 throughout, and its slowest answer.
"""

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Self

import urllib3

from hangar.bench.report import Figure, Target
from hangar.core.errors import HangarError

# What an ALB health check sends: the task's private IP as Host, never an allowed host.
PRIVATE_IP_HOST = "10.0.1.23"


@dataclass(frozen=True)
class OutagePlan:
    clients: int = 12
    outage_seconds: float = 25.0
    warm_seconds: float = 5.0
    recovery_limit: float = 60.0  # the dependency back, how long to wait for a success
    client_timeout: float = 30.0
    pause_after_refusal: float = 0.2
    probe_interval: float = 0.5
    probe_timeout: float = 5.0  # the ALB's health check timeout


@dataclass(frozen=True)
class Upload:
    started: float
    seconds: float
    status: int  # 0: no answer within the client's timeout
    retry_after: str | None

    @property
    def finished(self) -> float:
        return self.started + self.seconds


@dataclass(frozen=True)
class Probe:
    started: float
    seconds: float
    status: int


@dataclass
class Timeline:
    paused: float  # the dependency paused (the pause command returned)
    resuming: float  # the unpause command started
    resumed: float  # ... and returned
    uploads: list[Upload] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)


class Load:
    """`plan.clients` uploaders and one /healthz prober, in threads, from `with` until its end."""

    def __init__(
        self, base_url: str, upload_path: str, headers: Mapping[str, str], plan: OutagePlan
    ) -> None:
        self.base_url = base_url
        self.upload_path = upload_path
        self.headers = dict(headers)
        self.plan = plan
        self.http = urllib3.PoolManager(
            maxsize=plan.clients, timeout=plan.client_timeout, retries=False
        )
        self.uploads: list[Upload] = []
        self.probes: list[Probe] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._upload_loop) for _ in range(plan.clients)]
        self.threads.append(threading.Thread(target=self._probe_loop))

    def _upload_loop(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                response = self.http.request(
                    "POST",
                    self.base_url + self.upload_path,
                    fields={"file": ("notes.txt", b"outage benchmark\n", "text/plain")},
                    headers=self.headers,
                )
                status, retry_after = response.status, response.headers.get("Retry-After")
            except urllib3.exceptions.HTTPError:
                status, retry_after = 0, None
            self.uploads.append(Upload(started, time.monotonic() - started, status, retry_after))
            if status != 201:
                self.stopping.wait(self.plan.pause_after_refusal)

    def _probe_loop(self) -> None:
        while not self.stopping.wait(self.plan.probe_interval):
            started = time.monotonic()
            request = urllib.request.Request(  # noqa: S310 - the task's loopback URL
                self.base_url + "/healthz", headers={"Host": PRIVATE_IP_HOST}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.plan.probe_timeout) as answer:  # noqa: S310
                    status = int(answer.status)
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                status = 0
            self.probes.append(Probe(started, time.monotonic() - started, status))

    def succeeded_since(self, moment: float) -> bool:
        return any(u.status == 201 and u.finished >= moment for u in list(self.uploads))

    def __enter__(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(self.plan.client_timeout + 5)  # a request in flight ends by its timeout


def measure(
    base_url: str,
    upload_path: str,
    headers: Mapping[str, str],
    pause: Callable[[], object],
    resume: Callable[[], object],
    plan: OutagePlan = OutagePlan(),
) -> Timeline:
    """Upload to `upload_path` of `base_url`, pause the dependency for the plan's outage, resume
    it, and wait for the first successful upload; what the clients and the prober got."""
    with Load(base_url, upload_path, headers, plan) as load:
        time.sleep(plan.warm_seconds)
        pause()
        paused = time.monotonic()
        try:
            time.sleep(plan.outage_seconds)
        finally:
            resuming = time.monotonic()
            resume()
        resumed = time.monotonic()
        deadline = resumed + plan.recovery_limit
        while not load.succeeded_since(resumed) and time.monotonic() < deadline:
            time.sleep(0.05)
    return Timeline(paused, resuming, resumed, list(load.uploads), list(load.probes))


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest value that `percent` % of them do not exceed."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))  # ceil
    return ordered[int(rank) - 1]


def figures(timeline: Timeline, plan: OutagePlan = OutagePlan()) -> list[Figure]:
    paused, resuming, resumed = timeline.paused, timeline.resuming, timeline.resumed
    during = [u for u in timeline.uploads if u.started >= paused and u.finished <= resuming]
    if not during:
        raise HangarError("no upload started and ended during the outage: the load did not run")
    back = [u.finished for u in timeline.uploads if u.status == 201 and u.finished >= resumed]
    if not back:
        raise HangarError(
            f"no upload succeeded within {plan.recovery_limit:g} s of the dependency's return"
        )
    probes = [p for p in timeline.probes if paused <= p.started < resumed]
    refused = [u for u in during if u.status == 503 and u.retry_after]
    seconds = [u.seconds for u in during]
    load = (
        f"{plan.clients} logged-in clients uploading (next try {plan.pause_after_refusal:g} s "
        f"after a refusal), LocalStack paused {plan.outage_seconds:g} s; 1 run"
    )
    return [
        Figure(
            "outage: upload p99 latency while the dependency is paused",
            "s",
            [percentile(seconds, 99)],
            Target("<=", 2),
            f"{len(during)} uploads started and ended in the pause, slowest "
            f"{max(seconds):.2f} s; {load}",
        ),
        Figure(
            "outage: uploads answered 503 with Retry-After",
            "%",
            [100 * len(refused) / len(during)],
            Target(">=", 100),
            f"{len(refused)} of {len(during)}",
        ),
        Figure(
            "outage: first successful upload after the dependency returns",
            "s",
            [min(back) - resumed],
            Target("<=", 2),
            "from `docker compose unpause` returning to the upload's 201",
        ),
        Figure(
            "outage: /healthz answers other than 200 during the pause",
            "count",
            [float(sum(p.status != 200 for p in probes))],
            Target("<=", 0),
            f"{len(probes)} probes every {plan.probe_interval:g} s with the ALB's "
            f"{plan.probe_timeout:g} s timeout; slowest "
            f"{max((p.seconds for p in probes), default=0) * 1000:.0f} ms",
        ),
    ]
