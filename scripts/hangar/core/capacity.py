"""What one web task serves, from its size: gunicorn's processes and threads, the request rate
`make bench` measured for that size, the autoscaling target derived from it, and the shutdown
timings every layer (gunicorn, ECS, the ALB) must agree on.

In the CLI's core, with no CDK import: the CDK app (hangar_infra) sizes the task definitions from
it, and `hangar bench` runs the container it measures with the same processes and threads,
limited to the same CPU and memory.
"""

import json
from dataclasses import dataclass

from hangar.core.paths import ROOT

# Written by `make bench` (the `capacity` measurement), read here, so a new measurement moves the
# target with it. Beside pyproject.toml, with the project: the figures are its page's, not the
# platform's (a project that moves in measures its own).
MEASURED_CAPACITY_FILE = ROOT / "capacity.json"

# Django's requests mostly wait on PostgreSQL and S3, so threads, not processes, carry the
# concurrency; one process per half vCPU uses the CPU, one per 256 MiB stays within memory.
THREADS_PER_PROCESS = 8
CPU_UNITS_PER_PROCESS = 512
MIB_PER_PROCESS = 256
# Scale out before a task reaches what it was measured to sustain: the target is 70 % of it.
HEADROOM = 0.3
# ECS Service Auto Scaling's CPU target: well below saturation, where latency turns up.
CPU_TARGET_PERCENT = 60


@dataclass(frozen=True)
class GunicornSize:
    processes: int
    threads: int

    def environment(self) -> dict[str, str]:
        """What docker/runtime/gunicorn.conf.py reads (WEB_CONCURRENCY is gunicorn's own name)."""
        return {"WEB_CONCURRENCY": str(self.processes), "GUNICORN_THREADS": str(self.threads)}


def gunicorn_size(cpu: int, memory_mib: int) -> GunicornSize:
    processes = max(1, min(cpu // CPU_UNITS_PER_PROCESS, memory_mib // MIB_PER_PROCESS))
    return GunicornSize(processes=processes, threads=THREADS_PER_PROCESS)


# --- shutdown: one request timeout, everything else derived from it ---------------------------
# On a rolling deploy or scale-in ECS first deregisters the task (the ALB stops sending it new
# requests and gives in-flight ones the deregistration delay), then sends SIGTERM (gunicorn stops
# accepting and finishes what it holds within its graceful timeout), then SIGKILL after the stop
# timeout. A request never runs longer than gunicorn's timeout, so each later step waits at least
# that long and the kill comes only after gunicorn has had all of its graceful time.
REQUEST_TIMEOUT_SECONDS = 30
DEREGISTRATION_DELAY_SECONDS = REQUEST_TIMEOUT_SECONDS
GRACEFUL_TIMEOUT_SECONDS = REQUEST_TIMEOUT_SECONDS
STOP_TIMEOUT_SECONDS = GRACEFUL_TIMEOUT_SECONDS + 10  # Fargate allows at most 120
# A worker is expected to finish the message in hand on SIGTERM; a task that takes longer
# is killed and its message comes back after the queue's visibility timeout.
WORKER_STOP_TIMEOUT_SECONDS = 120
# Queued messages one worker task may have waiting before another one starts: a task handles
# messages one at a time, so this is about how many task durations the last message waits.
WORKER_BACKLOG_PER_TASK = 10


def shutdown_environment() -> dict[str, str]:
    return {
        "GUNICORN_TIMEOUT": str(REQUEST_TIMEOUT_SECONDS),
        "GUNICORN_GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT_SECONDS),
    }


# --- measured capacity and the scaling target -------------------------------------------------
class CapacityNotMeasured(LookupError):
    """No `make bench` figure for this task size: the message says how to measure it."""


@dataclass(frozen=True)
class MeasuredCapacity:
    cpu: int
    memory_mib: int
    requests_per_second: float  # the most one task sustained with p99 within the bound
    path: str
    p99_bound_ms: float
    measured: str  # when, on what machine, under which load: docs/benchmarks.md has the run

    @property
    def requests_per_target_per_minute(self) -> int:
        """ALBRequestCountPerTarget's target: the measured rate, less HEADROOM, per minute."""
        return max(1, int(self.requests_per_second * (1 - HEADROOM) * 60))


def size_key(cpu: int, memory_mib: int) -> str:
    return f"{cpu}cpu-{memory_mib}mib"


def measured_capacity(cpu: int, memory_mib: int, path: str) -> MeasuredCapacity:
    """What one task of this size sustains on `path` (`[tool.hangar] capacity-path`): a figure
    measured on another page is another app's, or an older choice of page, and does not count."""
    figures = json.loads(MEASURED_CAPACITY_FILE.read_text())
    figure = figures.get(size_key(cpu, memory_mib))
    if figure is None or figure.get("path") != path:
        raise CapacityNotMeasured(
            f"no capacity measured on {path} for a {cpu} CPU / {memory_mib} MiB web task in "
            f"{MEASURED_CAPACITY_FILE.name}: run `uv run hangar bench --only capacity`"
        )
    return MeasuredCapacity(cpu=cpu, memory_mib=memory_mib, **figure)
