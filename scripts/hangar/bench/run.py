"""`hangar bench`: measure this machine's figures for docs/benchmarks.md.

Each measurement is one function returning figures. It raises NotMeasured when the machine lacks
what it needs (no Docker engine), anything else when it failed; either way the reason is listed in
the report and the other measurements go on. Whatever a measurement starts (LocalStack on a spare
port, a compose project of its own, containers, dev servers) it stops before returning, so a
developer's own instances keep running untouched.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from hangar.bench import interrupts, outage
from hangar.bench.interrupts import cpu_load
from hangar.bench.report import Figure, Target, current_commit, render, repeat
from hangar.core import capacity, docker_client, ports, processes
from hangar.core.console import info, step, warn
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import LOCAL_ENV_FILE, ROOT, STATE_DIR
from hangar.core.stages import STAGES
from hangar.core.versions import LOCALSTACK_IMAGE
from hangar.deploy import local_stage, run_task, task_docker
from hangar.deploy.image import build_runtime_image
from hangar.devloop import reload_probe
from hangar.localstack import host as localstack_host
from hangar.localstack.endpoint import Endpoint, is_healthy, parse_endpoint
from hangar.provision import docker

REPORT = ROOT / "docs" / "benchmarks.md"
QUICK_REPORT = STATE_DIR / "benchmarks-quick.md"
# A full run restricted with --only must not replace the complete report with a part of it.
PARTIAL_REPORT = STATE_DIR / "benchmarks-partial.md"
RUNS, WARMUP = 5, 1
DEV_RUNS = 3
LOAD_SECONDS, QUICK_LOAD_SECONDS, LOAD_WARMUP_SECONDS = 30, 3, 5
LOAD_CONNECTIONS, LOAD_THREADS = 50, 2
# One connection per gunicorn worker process: the page's own latency, without queueing behind
# the 49 other connections (the 50-connection p99 is mostly that queue; see docs/performance.md).
UNQUEUED_CONNECTIONS = 2
LOCALSTACK_TIMEOUT = 120.0
# The project's page `[tool.hangar] capacity-path` is measured besides the health path, on the
# rows (and with the session) its `[tool.hangar.bench] seed-command` made; a project that names no
# page gets the health path's figures only.
RUNTIME_TAG = "hangar-bench/runtime:working-tree"
MB = 1_000_000


class NotMeasured(Exception):
    """This machine lacks what the measurement needs; not a failure of what it measures."""


@dataclass(frozen=True)
class Plan:
    quick: bool
    runs: int
    warmup: int
    load_seconds: int

    @classmethod
    def make(cls, quick: bool) -> "Plan":
        if quick:
            return cls(quick=True, runs=1, warmup=0, load_seconds=QUICK_LOAD_SECONDS)
        return cls(quick=False, runs=RUNS, warmup=WARMUP, load_seconds=LOAD_SECONDS)

    def repeat[T](self, sample: Callable[[], T]) -> list[T]:
        return repeat(self.runs, self.warmup, sample)


@dataclass
class Bench:
    """What the measurements share: the plan, and a runtime image built at most once per run."""

    plan: Plan
    cleanup: ExitStack = field(default_factory=ExitStack)
    _runtime_image: str | None = field(default=None, init=False)
    _docker_ready: bool = field(default=False, init=False)

    def require_docker(self) -> None:
        if not self._docker_ready:
            if not docker_client.engine_responds():
                raise NotMeasured(
                    "no Docker engine answers `docker info` (start Docker; as root on Debian, "
                    "`make docker-provision` installs and starts one)"
                )
            docker.provision_all()  # plugins and stand-in images; only checks where all is there
            self._docker_ready = True

    def runtime_image(self) -> str:
        """The Dockerfile's `runtime` stage built from the working tree (cached layers reused)."""
        if self._runtime_image is None:
            self.require_docker()
            with step(f"Build the runtime image ({RUNTIME_TAG})"):
                build_runtime_image(RUNTIME_TAG)
            self.cleanup.callback(_docker_quiet, "image", "rm", "--force", RUNTIME_TAG)
            self._runtime_image = RUNTIME_TAG
        return self._runtime_image


# --- pure helpers (unit-tested) -------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


# wrk's own summary counts only responses outside 2xx *and* 3xx ("Non-2xx or 3xx responses"), so
# an HTTPS redirect would pass unnoticed: this script counts every status outside 2xx itself, sends
# the header the ALB adds, and prints one line with exact figures instead of rounded text.
WRK_SCRIPT = """
wrk.headers["X-Forwarded-Proto"] = "https"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non_2xx = 0; pause_ms = tonumber(args[1]) or 0 end
function delay() return pause_ms end
function response(status, headers, body)
  if status < 200 or status > 299 then non_2xx = non_2xx + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("non_2xx") end
  local e = summary.errors
  io.write(string.format(
    "hangar-bench requests=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f non_2xx=%.0f "
    .. "connect=%.0f read=%.0f write=%.0f timeout=%.0f\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), total,
    e.connect, e.read, e.write, e.timeout))
end
"""
WRK_LINE = re.compile(r"^hangar-bench (?P<fields>.+)$", re.MULTILINE)


def parse_wrk(output: str) -> WrkResult:
    """The figures from the line WRK_SCRIPT prints at the end of wrk's output."""
    match = WRK_LINE.search(output)
    if match is None:
        raise HangarError(f"wrk printed no result line; its output:\n{output.strip()[-1500:]}")
    fields = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match["fields"])}
    if fields["requests"] == 0 or fields["duration_us"] == 0:
        raise HangarError(f"wrk completed no request; its output:\n{output.strip()[-1500:]}")
    return WrkResult(
        requests=fields["requests"],
        seconds=fields["duration_us"] / 1e6,
        p50_ms=fields["p50_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        non_2xx=fields["non_2xx"],
        socket_errors=sum(fields[kind] for kind in ("connect", "read", "write", "timeout")),
    )


_SIZE = re.compile(r"^\s*([\d.]+)\s*([KMGT]?i?B)\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text: str) -> float:
    """Bytes in a size as docker prints it: "52.3MiB", "1.2GB", "512kB"."""
    match = _SIZE.match(text)
    if match is None:
        raise HangarError(f"not a size docker prints: {text!r}")
    return float(match[1]) * _UNITS[match[2].upper()]


def parse_memory_usage(text: str) -> float:
    """Bytes used, from `docker stats`' MemUsage column ("52.3MiB / 23.5GiB")."""
    return parse_size(text.split("/")[0])


def ratio_figure(name: str, numerator: Figure, denominator: Figure, target: Target) -> Figure:
    return Figure(
        name,
        "times",
        [numerator.median / denominator.median],
        target,
        note="ratio of the medians, both measured in this run",
    )


def process_tree_rss(root_pid: int, proc: Path = Path("/proc")) -> float:
    """Bytes resident in `root_pid` and its descendants: VmRSS summed (shared pages count twice)."""
    children: dict[int, list[int]] = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
        children.setdefault(parent, []).append(int(stat.parent.name))
    total_kib, pending = 0, [root_pid]
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        try:
            status = (proc / str(pid) / "status").read_text()
        except OSError:
            continue
        rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total_kib += int(rss[1]) if rss else 0  # kernel threads and zombies have none
    return total_kib * 1024.0


PYTEST_SUMMARY = re.compile(r"^=+ (?P<summary>\d+ \w+.* in [\d.]+s.*?) =+$", re.MULTILINE)


def pytest_summary(output: str) -> str:
    """pytest's summary line without the decoration: "120 passed, 3 skipped in 12.34s" (make and
    coverage print after it)."""
    found = PYTEST_SUMMARY.findall(output)
    return found[-1] if found else "no pytest summary in the output"


# --- machine helpers ------------------------------------------------------------------------------


def spare_endpoint() -> Endpoint:
    return parse_endpoint(f"http://127.0.0.1:{ports.spare_port()}", source="a spare port")


def timed[T](action: Callable[[], T]) -> tuple[float, T]:
    started = time.monotonic()
    result = action()
    return time.monotonic() - started, result


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise HangarError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(0.1)


def http_status(url: str) -> int | None:
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _docker_quiet(*args: str) -> None:
    subprocess.run(["docker", *args], capture_output=True, timeout=120, check=False)


@contextmanager
def preserved(*paths: Path) -> Iterator[None]:
    """Put files back as they were: deploy_local rewrites the developer's .hangar/local.env."""
    saved = {path: path.read_bytes() if path.exists() else None for path in paths}
    try:
        yield
    finally:
        for path, content in saved.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)


@dataclass(frozen=True)
class ComposeProject:
    """A compose project of its own: never the checkout's own project (make dev's) or its ports."""

    name: str
    env: dict[str, str]

    @property
    def network(self) -> str:
        return f"{self.name}_default"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return processes.run([*docker_client.compose_command(self.name), *args], env=self.env)

    def pause(self, service: str) -> None:
        docker_client.pause_service(self.name, service, self.env)

    def unpause(self, service: str) -> None:
        self.run("unpause", service)


@contextmanager
def compose_project(**variables: str) -> Iterator[ComposeProject]:
    project = ComposeProject(f"hangar-bench-{uuid.uuid4().hex[:8]}", {**os.environ, **variables})
    try:
        yield project
    finally:
        subprocess.run(
            # --rmi=local: the images compose built for this project (the dev run builds its own).
            [
                *docker_client.compose_command(project.name),
                "down",
                "--volumes",
                "--rmi=local",
                "--timeout=10",
            ],
            env=project.env,
            capture_output=True,
            timeout=300,
            check=False,
        )


# --- LocalStack -----------------------------------------------------------------------------------


def start_host_localstack(endpoint: Endpoint) -> float:
    seconds, _ = timed(lambda: localstack_host.start(endpoint, LOCALSTACK_TIMEOUT))
    return seconds


def stop_host_localstack(endpoint: Endpoint) -> float:
    run_dir = localstack_host.RunDir.for_port(endpoint.port)
    seconds, _ = timed(lambda: localstack_host.stop(run_dir))
    shutil.rmtree(run_dir.path, ignore_errors=True)
    run_dir.path.with_suffix(".lock").unlink(missing_ok=True)
    return seconds


def localstack_host_lifecycle(bench: Bench) -> list[Figure]:
    localstack_host.ensure_venv()  # installing is not starting: a first install is not timed

    def cycle() -> tuple[float, float]:
        endpoint = spare_endpoint()
        try:
            started = start_host_localstack(endpoint)
        finally:
            stopped = stop_host_localstack(endpoint)
        return started, stopped

    starts, stops = zip(*bench.plan.repeat(cycle), strict=True)
    note = "fresh state dir on a spare port each run"
    return [
        Figure("LocalStack host mode: start → healthy", "s", list(starts), Target("<=", 3), note),
        Figure("LocalStack host mode: stop", "s", list(stops), Target("<=", 5), note),
    ]


def localstack_container_lifecycle(bench: Bench) -> list[Figure]:
    bench.require_docker()
    endpoint = spare_endpoint()
    with compose_project(LOCALSTACK_PORT=str(endpoint.port)) as compose:

        def cycle() -> tuple[float, float]:
            started = time.monotonic()
            # Not `up --wait`: that polls the healthcheck every 3 s; the gateway is polled here.
            compose.run("up", "--detach", "--no-deps", "localstack")
            wait_until(lambda: is_healthy(endpoint.url, timeout=1), LOCALSTACK_TIMEOUT, "health")
            up = time.monotonic() - started
            down, _ = timed(lambda: compose.run("rm", "--stop", "--force", "localstack"))
            return up, down

        starts, stops = zip(*bench.plan.repeat(cycle), strict=True)
    image = docker_client.compose_settings().get("LOCALSTACK_IMAGE", LOCALSTACK_IMAGE)
    note = f"{image}; new container each run, until /_localstack/health answers"
    return [
        Figure("LocalStack container: start → healthy", "s", list(starts), note=note),
        Figure("LocalStack container: stop and remove", "s", list(stops), note=note),
    ]


def deploy_local_cycle(bench: Bench) -> list[Figure]:
    """Cold deploy into a fresh host-mode LocalStack, an unchanged re-run, then its memory."""
    localstack_host.ensure_venv()

    def cycle() -> tuple[float, float, float]:
        endpoint = spare_endpoint()
        try:
            start_host_localstack(endpoint)
            cold, _ = timed(lambda: local_stage.deploy_local(endpoint.url))
            unchanged, _ = timed(lambda: local_stage.deploy_local(endpoint.url))
            running = localstack_host.read_running(localstack_host.RunDir.for_port(endpoint.port))
            if running is None:
                raise HangarError("LocalStack exited during the deploys")
            rss = process_tree_rss(running.pid)
        finally:
            stop_host_localstack(endpoint)
        return cold, unchanged, rss / MB

    with preserved(LOCAL_ENV_FILE, local_stage.OUTPUTS_FILE):
        colds, unchanged, rss = zip(*bench.plan.repeat(cycle), strict=True)
    return [
        Figure(
            "deploy-local: cold (bootstrap + deploy)",
            "s",
            list(colds),
            Target("<=", 45),
            "fresh host-mode LocalStack on a spare port each run",
        ),
        Figure("deploy-local: unchanged re-run", "s", list(unchanged), Target("<=", 5)),
        Figure(
            "LocalStack host mode: memory after a deploy",
            "MB",
            list(rss),
            Target("<=", 400),
            "RSS of the process tree, from /proc",
        ),
    ]


# --- dev loop -------------------------------------------------------------------------------------


def make_timed(arguments: list[str], env: dict[str, str]) -> float:
    """Seconds a `make` target took in this checkout; its output when it failed."""
    seconds, result = timed(
        lambda: subprocess.run(
            ["make", *arguments], cwd=ROOT, env=env, capture_output=True, text=True
        )
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-1500:]
        raise HangarError(f"`make {' '.join(arguments)}` failed: {output}")
    return seconds


def dev_cycles(
    env: dict[str, str], runs: int, until_serving: Callable[[], None] = lambda: None
) -> tuple[list[float], list[float]]:
    """`make dev DETACH=1` (and `until_serving`, where it returns before the app answers), then
    `make down`: one untimed cycle (it builds images and synthesizes the local stage if needed,
    so every timed run is warm), then `runs` timed ones."""

    def start() -> None:
        make_timed(["dev", "DETACH=1"], env)
        until_serving()

    def cycle() -> tuple[float, float]:
        return timed(start)[0], make_timed(["down"], env)

    cycle()
    starts, stops = zip(*repeat(runs, 0, cycle), strict=True)
    return list(starts), list(stops)


def dev_docker_cycle(bench: Bench) -> list[Figure]:
    """`make dev` in docker mode after `make down`, images built and nothing changed, then
    `make down`: the CLI itself, in a compose project and on ports of its own."""
    bench.require_docker()
    ports_used = {
        "HANGAR_LOCALSTACK_PORT": ports.spare_port(),
        "HANGAR_WEB_PORT": ports.spare_port(),
        "HANGAR_DEBUG_PORT": ports.spare_port(),
    }
    runs = min(bench.plan.runs, DEV_RUNS)  # fewer runs than others: each one deploys anew
    with (
        tempfile.TemporaryDirectory(prefix="hangar-bench-dev-") as session,
        compose_project() as project,
        preserved(LOCAL_ENV_FILE, local_stage.OUTPUTS_FILE, local_stage.DEPLOY_RECORD),
    ):
        env = {
            **{k: v for k, v in project.env.items() if k not in ("LOCALSTACK_ENDPOINT", "DETACH")},
            **{variable: str(port) for variable, port in ports_used.items()},
            "COMPOSE_PROJECT_NAME": project.name,
            "HANGAR_DEV_MODE": "docker",
            "HANGAR_DEV_DIR": session,
        }
        starts, stops = dev_cycles(env, runs)
    note = (
        f"{runs} run(s) after one that built the images; docker mode, `make dev DETACH=1` "
        "until web's /healthz answers, after `make down`"
    )
    return [
        Figure("make dev (warm): start → healthy", "s", starts, Target("<=", 20), note),
        Figure("make down", "s", stops, Target("<=", 5), "after each of those runs"),
    ]


def dev_host_cycle(bench: Bench) -> list[Figure]:
    """`make dev` in host mode (dev server, worker, LocalStack from PyPI) after `make down`, then
    `make down`, which stops the three side by side: on ports and a session of its own."""
    runs = min(bench.plan.runs, DEV_RUNS)
    with host_dev_session("hangar-bench-host-") as env:
        web_port = env["HANGAR_WEB_PORT"]
        healthz = f"http://127.0.0.1:{web_port}{contract().health_path}"
        serving = partial(wait_until, lambda: http_status(healthz) == 200, 120, f"{healthz} 200")
        starts, stops = dev_cycles(env, runs, serving)
    note = (
        f"{runs} run(s) after one untimed; host mode, `make dev DETACH=1` until /healthz answers, "
        "after `make down`: LocalStack starts and the stage deploys each time"
    )
    return [
        Figure("make dev (host, after make down): start → serving", "s", starts, None, note),
        Figure("make down (host)", "s", stops, Target("<=", 5), "web, worker and LocalStack"),
    ]


INTERRUPT_ATTEMPTS = 30
# What ends a start-up: a Ctrl-C, a SIGTERM (a terminal closed, a supervisor), and a second Ctrl-C
# while the first one's stop is under way. Each is measured apart, 30 times per mode.
INTERRUPTS = {
    "": ("Ctrl-C", (signal.SIGINT,)),
    "-sigterm": ("SIGTERM", (signal.SIGTERM,)),
    "-second-ctrl-c": ("a second Ctrl-C during the stop", (signal.SIGINT, signal.SIGINT)),
}


def interrupted_starts(bench: Bench, mode: str, signals: Sequence[int], what: str) -> list[Figure]:
    """`what` at random moments of `make dev`'s start-up in `mode`, 30 times, with a CPU load
    beside it: the slowest exit after the signal, and how many sessions left something behind."""
    with cpu_load():
        if mode == "host":
            with host_dev_session("hangar-bench-interrupts-") as env:
                results = _interrupted_host_starts(env, signals)
        else:
            bench.require_docker()
            results = _interrupted_docker_starts(signals)
    failed = [outcome for outcome in results if outcome.problems()]
    for outcome in failed:
        warn(f"{mode} mode: {outcome.describe()}")
    exits = sorted(outcome.exit_seconds for outcome in results)
    late = sum(seconds > interrupts.EXIT_DEADLINE for seconds in exits)
    names = "+".join(signal.Signals(number).name for number in signals)
    note = (
        f"{len(results)} times {names} at random moments of the start-up, a busy loop per core; "
        f"median {exits[len(exits) // 2]:.2f} s, {late} over {interrupts.EXIT_DEADLINE:.0f} s; "
        f"all: {', '.join(f'{seconds:.1f}' for seconds in exits)}"
    )
    return [
        Figure(
            f"{what} during `make dev`'s start-up ({mode}): exit after the signal, worst",
            "s",
            [exits[-1]],
            Target("<=", interrupts.EXIT_DEADLINE),
            note,
        ),
        Figure(
            f"{what} during `make dev`'s start-up ({mode}): sessions with a problem",
            "",
            [float(len(failed))],
            Target("<=", 0),
            "a process, container, network or volume left, a traceback, a late exit or an "
            "unexpected status",
        ),
    ]


@contextmanager
def host_dev_session(prefix: str) -> Iterator[dict[str, str]]:
    """The environment of a host-mode `make dev` as a user runs it (LocalStack from PyPI, the
    stage deployed, worker and dev server), on spare ports and in a session folder of its own;
    the checkout's local.env and deploy records are put back after."""
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as session,
        preserved(LOCAL_ENV_FILE, local_stage.OUTPUTS_FILE, local_stage.DEPLOY_RECORD),
    ):
        yield {
            **{k: v for k, v in os.environ.items() if k not in ("LOCALSTACK_ENDPOINT", "DETACH")},
            "HANGAR_LOCALSTACK_PORT": str(ports.spare_port()),
            "HANGAR_WEB_PORT": str(ports.spare_port()),
            "HANGAR_DEBUG_PORT": str(ports.spare_port()),
            "HANGAR_DEV_MODE": "host",
            "HANGAR_DEV_DIR": session,
            "DATABASE_URL": f"sqlite:///{session}/db.sqlite3",
        }


def _interrupted_host_starts(
    env: Mapping[str, str], signals: Sequence[int]
) -> list[interrupts.Outcome]:
    healthz = f"http://127.0.0.1:{env['HANGAR_WEB_PORT']}{contract().health_path}"
    start_up = interrupts.seconds_until(healthz, ["dev"], env)
    plans = interrupts.random_plans(signals, INTERRUPT_ATTEMPTS, start_up, ("host", *signals))
    return [interrupts.attempt(["dev"], env, plan) for plan in plans]


def _interrupted_docker_starts(signals: Sequence[int]) -> list[interrupts.Outcome]:
    with docker_dev_session() as (env, left):
        web_port = env["HANGAR_WEB_PORT"]
        start_up = interrupts.seconds_until(f"http://127.0.0.1:{web_port}/healthz", ["dev"], env)
        left(RUNNING)  # the measuring start-up ran to the end: down before the attempts
        plans = interrupts.random_plans(signals, INTERRUPT_ATTEMPTS, start_up, ("docker", *signals))
        return [interrupts.attempt(["dev"], env, plan, left) for plan in plans]


RUNNING = "Hangar is running"  # what a docker-mode start-up that finished printed


@dataclass
class DockerLeftovers:
    """What an interrupted docker-mode `hangar dev` left of its compose project: containers,
    networks, and volumes other than those of a start-up that finished (as `make down`, the down
    after each attempt keeps them: the database's data outlives a session). A session that
    reached "Hangar is running" keeps its containers by design: nothing it left counts."""

    compose: list[str]
    env: dict[str, str]
    kept_volumes: set[str] = field(default_factory=set)

    def __call__(self, output: str) -> list[str]:
        containers = self._listed("ps", "--all", "--format", "{{.Name}}", compose=True)
        networks, volumes = self._listed("network", "ls"), self._listed("volume", "ls")
        subprocess.run([*self.compose, "down"], env=self.env, capture_output=True, check=False)
        if RUNNING in output:
            self.kept_volumes.update(volumes)
            return []
        created = [f"volume {name}" for name in volumes if name not in self.kept_volumes]
        return [*containers, *(f"network {name}" for name in networks), *created]

    def _listed(self, *arguments: str, compose: bool = False) -> list[str]:
        project = self.env["COMPOSE_PROJECT_NAME"]
        filters = ["--filter", f"label=com.docker.compose.project={project}"]
        command = (
            [*self.compose, *arguments]
            if compose
            else ["docker", *arguments, *filters, "--format", "{{.Name}}"]
        )
        listed = subprocess.run(command, env=self.env, capture_output=True, text=True, check=False)
        return listed.stdout.split()


@contextmanager
def docker_dev_session() -> Iterator[tuple[dict[str, str], DockerLeftovers]]:
    """The environment of a docker-mode `hangar dev` in a compose project and on ports of its
    own, and the check of what it left; the project, its volumes and images go at the end."""
    with (
        tempfile.TemporaryDirectory(prefix="hangar-bench-dev-") as session,
        compose_project() as project,
        preserved(LOCAL_ENV_FILE, local_stage.OUTPUTS_FILE, local_stage.DEPLOY_RECORD),
    ):
        env = {
            **{k: v for k, v in project.env.items() if k not in ("LOCALSTACK_ENDPOINT", "DETACH")},
            "HANGAR_LOCALSTACK_PORT": str(ports.spare_port()),
            "HANGAR_WEB_PORT": str(ports.spare_port()),
            "HANGAR_DEBUG_PORT": str(ports.spare_port()),
            "COMPOSE_PROJECT_NAME": project.name,
            "HANGAR_DEV_MODE": "docker",
            "HANGAR_DEV_DIR": session,
        }
        yield env, DockerLeftovers(docker_client.compose_command(project.name), env)


def hot_reload(bench: Bench, *, in_container: bool = False) -> list[Figure]:
    """Save → new response: what `make dev` runs, and Django's StatReloader, under debugpy."""
    mode = "docker" if in_container else "host"
    if in_container:
        bench.require_docker()
    figures = {}
    for reloader, label in (("devserver", "hangar.devloop.devserver"), ("stat", "StatReloader")):
        with (
            step(f"Dev server ({mode} mode) with {label}"),
            reload_probe.probe_server(reloader, debug=True, in_container=in_container) as server,
        ):
            samples = bench.plan.repeat(server.change)
        ours = reloader == "devserver"
        figures[reloader] = Figure(
            f"hot reload, {mode} mode ({label}): save → new response",
            "s",
            samples,
            Target("<=", 0.5) if ours else None,
            "what `make dev` runs, debugpy listening" if ours else "Django's runserver, same setup",
        )
    ratio = ratio_figure(
        f"hot reload, {mode} mode: StatReloader / hangar.devloop.devserver",
        figures["stat"],
        figures["devserver"],
        Target(">=", 3),
    )
    return [figures["devserver"], figures["stat"], ratio]


def make_test(bench: Bench) -> list[Figure]:
    """`make test` as a developer and CI run it: every layer, in the Makefile's parallel workers."""
    command = ["make", "test"]
    env = {**os.environ, "PYTEST_ADDOPTS": "-p no:cacheprovider"}
    seconds, result = timed(
        lambda: subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
    )
    summary = pytest_summary(result.stdout)
    if result.returncode != 0:
        failed = [
            line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))
        ]
        raise HangarError(f"`make test` exited {result.returncode}: {summary}; {'; '.join(failed)}")
    note = f"1 run (it takes minutes); {summary}"
    return [Figure("make test: every layer", "s", [seconds], note=note)]


# --- the runtime image ----------------------------------------------------------------------------


def image_bytes(reference: str) -> int:
    return int(
        processes.run(["docker", "image", "inspect", "--format={{.Size}}", reference]).stdout
    )


def runtime_image_size(bench: Bench) -> list[Figure]:
    image = bench.runtime_image()
    base = docker_client.compose_settings().get("PYTHON_IMAGE", "python:3.13-slim")
    size, base_size = image_bytes(image), image_bytes(base)
    note = "deterministic: measured once"
    return [
        Figure("runtime image: size", "MB", [size / MB], note=note),
        Figure(
            "runtime image: size over its base",
            "MB",
            [(size - base_size) / MB],
            Target("<=", 80),
            f"{note}; base {base}",
        ),
    ]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if not docker.is_root():
        raise HangarError(
            "wrk (the HTTP load generator) is not installed",
            "install it: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)",
        )
    with step("Install wrk (apt-get install wrk)"):
        docker.apt_install("wrk")
    return shutil.which("wrk") or "wrk"


def seed_headers(run_in_image: list[str]) -> dict[str, str]:
    """Run the project's seed command (`run_in_image` runs a command in the app's image, on the
    bench's database); the Cookie its last line names, when it names one."""
    seed = contract().bench.seed_command
    if seed is None:
        return {}
    output = processes.run([*run_in_image, *seed]).stdout.strip().splitlines()
    last = output[-1].strip() if output else ""
    return {"Cookie": last} if re.fullmatch(r"[^=\s;]+=[^\s;]+", last) else {}


@dataclass(frozen=True)
class SeededDatabase:
    network: str
    env: dict[str, str]  # the app's settings for containers on that network
    headers: dict[str, str]  # what each load request sends: the seed command's session


@contextmanager
def seeded_database(image: str) -> Iterator[SeededDatabase]:
    """The compose `db` service, migrated and seeded by the project's seed command."""
    with compose_project() as compose:
        compose.run("up", "--detach", "--wait", "db")
        env = {
            "DJANGO_SECRET_KEY": "bench-not-a-secret",
            "DATABASE_URL": "postgres://hangar:hangar@db:5432/hangar",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        }
        env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
        one_off = ["docker", "run", "--rm", f"--network={compose.network}", *env_args, image]
        with step("Migrate"):
            processes.run([*one_off, "python", "manage.py", "migrate", "--noinput"])
        with step("Seed the database ([tool.hangar.bench] seed-command)"):
            headers = seed_headers(one_off)
        yield SeededDatabase(compose.network, env, headers)


@contextmanager
def runtime_container(
    image: str, network: str, env: dict[str, str], limits: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """The runtime image as ECS runs it (gunicorn), published on loopback only; (id, base URL).

    `limits` are `docker run` options such as --cpus and --memory (a task's size)."""
    port = ports.spare_port()
    env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    container = processes.run(
        [
            "docker",
            "run",
            "--detach",
            f"--network={network}",
            f"--publish=127.0.0.1:{port}:{contract().container_port}",
            *limits,
            *env_args,
            image,
        ]
    ).stdout.strip()
    try:
        base_url = f"http://127.0.0.1:{port}"
        try:
            health = contract().health_path
            wait_until(lambda: http_status(base_url + health) == 200, 90, f"{health} 200")
        except HangarError as error:
            logs = subprocess.run(
                ["docker", "logs", "--tail=30", container],
                capture_output=True,
                text=True,
                check=False,
            )
            raise HangarError(f"{error}; container log:\n{logs.stdout}{logs.stderr}") from error
        yield container, base_url
    finally:
        _docker_quiet("rm", "--force", "--volumes", container)


def container_memory(container: str) -> float:
    usage = processes.run(["docker", "stats", "--no-stream", "--format={{.MemUsage}}", container])
    return parse_memory_usage(usage.stdout.strip())


def run_wrk(
    wrk: str,
    url: str,
    seconds: int,
    container: str,
    connections: int = LOAD_CONNECTIONS,
    pause_ms: float = 0,
    headers: dict[str, str] | None = None,
) -> tuple[WrkResult, float]:
    """One wrk run against `url`; the container's memory is sampled half-way through it.

    `pause_ms`: each connection waits that long after a response before its next request."""
    header_args = [f"--header={name}: {value}" for name, value in (headers or {}).items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        command = [
            wrk,
            f"--threads={min(LOAD_THREADS, connections)}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            "--timeout=5s",
            f"--script={script.name}",
            *header_args,
            url,
            "--",
            f"{pause_ms:.1f}",
        ]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            time.sleep(seconds / 2)
            memory = container_memory(container)
            output, _ = process.communicate(timeout=seconds + 60)
    return parse_wrk(output), memory


def runtime_under_load(bench: Bench) -> list[Figure]:
    image = bench.runtime_image()
    wrk = ensure_wrk()
    seconds = bench.plan.load_seconds
    figures: list[Figure] = []
    with ExitStack() as stack:
        database = stack.enter_context(seeded_database(image))
        container, base_url = stack.enter_context(
            runtime_container(image, database.network, database.env)
        )
        load = partial(run_wrk, wrk, headers=database.headers)
        idle = [container_memory(container) / MB for _ in range(bench.plan.runs)]
        figures.append(
            Figure(
                "runtime container: memory at idle",
                "MB",
                idle,
                Target("<=", 200),
                "docker stats, before any load",
            )
        )
        loads = [(contract().health_path, LOAD_CONNECTIONS, {"requests/s": Target(">=", 800)})]
        if page := contract().capacity_path:
            loads += [
                (page, LOAD_CONNECTIONS, {"p99": Target("<=", 100)}),
                (page, UNQUEUED_CONNECTIONS, {}),
            ]
        for path, connections, targets in loads:
            with step(f"wrk on {path}: {connections} connections, {seconds} s per run"):
                if bench.plan.warmup:
                    load(base_url + path, LOAD_WARMUP_SECONDS, container, connections)
                runs = [
                    load(base_url + path, seconds, container, connections)
                    for _ in range(bench.plan.runs)
                ]
            figures += load_figures(path, runs, targets, seconds, connections)
    return figures


def load_figures(
    path: str,
    runs: list[tuple[WrkResult, float]],
    targets: dict[str, Target],
    seconds: int,
    connections: int = LOAD_CONNECTIONS,
) -> list[Figure]:
    results = [result for result, _ in runs]
    socket_errors = sum(result.socket_errors for result in results)
    note = (
        f"wrk {min(LOAD_THREADS, connections)} threads, {connections} connections, "
        f"{seconds} s per run, on 127.0.0.1; gunicorn as the image runs it without a task "
        "definition (docker/runtime/gunicorn.conf.py's fallbacks), no CPU or memory limit"
    )
    load = path if connections == LOAD_CONNECTIONS else f"{path} ({connections} conn.)"
    name = f"runtime {load}"
    return [
        Figure(
            f"{name}: requests/s",
            "req/s",
            [r.requests_per_second for r in results],
            targets.get("requests/s"),
            note,
        ),
        Figure(f"{name}: p50 latency", "ms", [r.p50_ms for r in results]),
        Figure(f"{name}: p99 latency", "ms", [r.p99_ms for r in results], targets.get("p99")),
        Figure(
            f"{name}: non-2xx responses",
            "per run",
            [float(r.non_2xx) for r in results],
            Target("<=", 0),
            f"socket errors (connect/read/write/timeout): {socket_errors}",
        ),
        Figure(
            f"runtime container: memory under load on {load}",
            "MB",
            [memory / MB for _, memory in runs],
            note="docker stats, half-way through each run",
        ),
    ]


# --- capacity of one web task at each stage's size ----------------------------------------------
# p99 bounds a task must stay under; the highest rate it sustains within them is its capacity.
# The health path's bound, and the sample page's: the page whose capacity sets the scaling target,
# the app's real work (database, templates).
HEALTH_BOUND_MS = 250.0
PAGE_BOUND_MS = 1000.0
# Offered rates, requests/s. Unpaced load (wrk's default) would saturate even a quarter vCPU with
# one connection, and a saturated CPU quota puts every task's p99 past any bound; paced load
# measures the latency at a given rate, as an ALB spreading real traffic sees it.
CAPACITY_RATES = (1, 2, 5, 10, 20, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960)
# Connections per offered rate: one per req/s, at most 16 (two tasks' worth of threads), so the
# pause after each response (about a second at low rates) dominates the response time.
CAPACITY_MAX_CONNECTIONS = 16
CAPACITY_STEP_SECONDS = 5


def connections_for_rate(rate: float) -> int:
    return max(1, min(CAPACITY_MAX_CONNECTIONS, round(rate)))


def pause_for_rate(rate: float, connections: int) -> float:
    """The pause (ms) after each response that makes `connections` offer about `rate` req/s."""
    return connections * 1000 / rate


def wrk_result(
    wrk: str, url: str, seconds: int, container: str, headers: dict[str, str], rate: float
) -> WrkResult:
    connections = connections_for_rate(rate)
    pause = pause_for_rate(rate, connections)
    return run_wrk(wrk, url, seconds, container, connections, pause, headers)[0]


def highest_rate_within(
    bound_ms: float, measure: Callable[[float], WrkResult]
) -> tuple[float, WrkResult | None, str]:
    """Offer ever higher rates until p99 exceeds `bound_ms` or a request fails; the best served
    rate before that, its result, and why it stopped."""
    best: tuple[float, WrkResult | None] = (0.0, None)
    stopped = f"p99 within {bound_ms:g} ms up to {CAPACITY_RATES[-1]} req/s offered"
    for rate in CAPACITY_RATES:
        result = measure(rate)
        if result.p99_ms > bound_ms or result.non_2xx or result.socket_errors:
            stopped = (
                f"at {rate} req/s offered: {result.requests_per_second:.0f} served, p99 "
                f"{result.p99_ms:.0f} ms, {result.non_2xx} non-2xx, {result.socket_errors} "
                "socket errors"
            )
            break
        if result.requests_per_second > best[0]:
            best = (result.requests_per_second, result)
    return (*best, stopped)


def stage_task_sizes() -> dict[tuple[int, int], list[str]]:
    """Each web task size of the stages (hangar.core.stages): (cpu, MiB) → stages."""
    sizes: dict[tuple[int, int], list[str]] = {}
    for name, stage in STAGES.items():
        sizes.setdefault((stage.web_cpu, stage.web_memory_mib), []).append(name)
    return sizes


def web_capacity(bench: Bench) -> list[Figure]:
    image = bench.runtime_image()
    wrk = ensure_wrk()
    seconds = min(bench.plan.load_seconds, CAPACITY_STEP_SECONDS)
    figures: list[Figure] = []
    measured: dict[str, dict[str, object]] = {}
    with ExitStack() as stack:
        database = stack.enter_context(seeded_database(image))
        network, env = database.network, database.env
        for (cpu, memory_mib), stages in stage_task_sizes().items():
            size = capacity.gunicorn_size(cpu, memory_mib)
            limits = (f"--cpus={cpu / 1024:g}", f"--memory={memory_mib}m")
            task_env = {**env, **size.environment(), **capacity.shutdown_environment()}
            with runtime_container(image, network, task_env, limits) as (container, base_url):
                label = f"{cpu} CPU / {memory_mib} MiB ({', '.join(stages)})"
                page = contract().capacity_path
                bounds = {contract().health_path: HEALTH_BOUND_MS}
                if page:
                    bounds[page] = PAGE_BOUND_MS
                for path, bound_ms in bounds.items():
                    with step(
                        f"capacity of one {label} task on {path}: p99 within {bound_ms:g} ms"
                    ):
                        rate, result, stopped = highest_rate_within(
                            bound_ms,
                            partial(
                                wrk_result,
                                wrk,
                                base_url + path,
                                seconds,
                                container,
                                database.headers,
                            ),
                        )
                    if result is None:
                        # No figure to scale on: this size stays out of capacity.json, and synth
                        # of its stages says so until a measurement succeeds.
                        warn(f"one {label} task missed p99 {bound_ms:g} ms on {path}: {stopped}")
                        figures.append(
                            Figure(f"capacity {label} {path}", "req/s", [0], None, stopped)
                        )
                        continue
                    note = (
                        f"docker run {' '.join(limits)}, gunicorn {size.processes} x "
                        f"{size.threads} threads; wrk paced to {CAPACITY_RATES[0]}..."
                        f"{CAPACITY_RATES[-1]} req/s on up to {CAPACITY_MAX_CONNECTIONS} conn., "
                        f"{seconds} s per rate: p99 {result.p99_ms:.0f} ms at the best; "
                        f"stopped {stopped}"
                    )
                    figures.append(Figure(f"capacity {label} {path}", "req/s", [rate], None, note))
                    if path == page and not bench.plan.quick:
                        measured[capacity.size_key(cpu, memory_mib)] = {
                            "requests_per_second": round(rate, 1),
                            "path": path,
                            "p99_bound_ms": bound_ms,
                            "measured": f"{time.strftime('%Y-%m-%d')}, commit {current_commit()}, "
                            f"{note}; {os.cpu_count()} host cores (shared)",
                        }
    if measured:
        capacity.MEASURED_CAPACITY_FILE.write_text(json.dumps(measured, indent=2) + "\n")
        info(f"wrote {capacity.MEASURED_CAPACITY_FILE.relative_to(ROOT)} (the scaling target)")
    return figures


# --- a dependency outage under load, against the runtime task ----------------------------------
# Any 32 letters and digits: Django checks that the X-CSRFToken header repeats the cookie's secret.
CSRF_SECRET = "bench" + "0" * 27


@contextmanager
def running_task(options: run_task.Options) -> Iterator[run_task.RunningTask | int]:
    """`make run-task`'s container (detached: running while the block runs), removed after."""
    try:
        yield run_task.run(options)
    finally:
        _docker_quiet(
            "rm", "--force", task_docker.container_name(options.compose_project, options.task)
        )


def member_headers(container: str) -> dict[str, str]:
    """What a logged-in member's browser sends with an API call: the session the seed command
    made in the task's database, and the CSRF cookie and header."""
    seeded = seed_headers(["docker", "exec", container])
    cookie = "; ".join([*seeded.values(), f"csrftoken={CSRF_SECRET}"])
    return {"Host": "localhost", "Cookie": cookie, "X-CSRFToken": CSRF_SECRET}


def dependency_outage(bench: Bench) -> list[Figure]:
    """The web task as `make run-task` runs it, in a compose project of its own whose LocalStack
    holds the deployed local stage, under uploading clients while that LocalStack is paused."""
    upload_path = contract().bench.upload_path
    if upload_path is None:
        raise NotMeasured("[tool.hangar.bench] names no upload-path for the clients to upload to")
    bench.require_docker()
    endpoint = spare_endpoint()
    with (
        compose_project(LOCALSTACK_PORT=str(endpoint.port)) as compose,
        preserved(LOCAL_ENV_FILE, local_stage.OUTPUTS_FILE, local_stage.DEPLOY_RECORD),
    ):
        with step("db and LocalStack up, the local stage deployed into that LocalStack"):
            compose.run("up", "--detach", "--wait", "db", "localstack")
            local_stage.deploy_local(endpoint.url)
        # run-task runs the migration task to completion before the web task.
        task = partial(run_task.Options, stage="local", compose_project=compose.name)
        with running_task(task(task="web", port=ports.spare_port(), detach=True)) as web:
            if not isinstance(web, run_task.RunningTask) or web.url is None:
                raise HangarError("the web task did not start with a published port")
            plan = outage.OutagePlan()
            with step(f"Pause LocalStack {plan.outage_seconds:g} s under {plan.clients} uploaders"):
                timeline = outage.measure(
                    web.url,
                    upload_path,
                    member_headers(web.container),
                    pause=partial(compose.pause, "localstack"),
                    resume=partial(compose.unpause, "localstack"),
                    plan=plan,
                )
    return outage.figures(timeline, plan)


# --- the command ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    name: str
    title: str
    measure: Callable[[Bench], list[Figure]]
    in_quick_mode: bool = True


MEASUREMENTS = [
    Measurement("localstack-host", "LocalStack host mode start/stop", localstack_host_lifecycle),
    Measurement(
        "localstack-container", "LocalStack container start/stop", localstack_container_lifecycle
    ),
    Measurement(
        "deploy-local", "deploy-local cold and unchanged, LocalStack memory", deploy_local_cycle
    ),
    Measurement("dev-docker", "warm `make dev` (docker mode) and `make down`", dev_docker_cycle),
    Measurement("dev-host", "`make dev` (host mode) and `make down`", dev_host_cycle),
    *(
        Measurement(
            f"interrupts-{mode}{suffix}",
            f"{what} at random moments of `make dev`'s start-up ({mode} mode), under load",
            partial(interrupted_starts, mode=mode, signals=signals, what=what),
            in_quick_mode=False,
        )
        for mode in ("host", "docker")
        for suffix, (what, signals) in INTERRUPTS.items()
    ),
    Measurement(
        "hot-reload", "hot reload (host mode), hangar.devloop.devserver vs StatReloader", hot_reload
    ),
    Measurement(
        "hot-reload-docker",
        "hot reload (docker mode), hangar.devloop.devserver vs StatReloader",
        partial(hot_reload, in_container=True),
    ),
    Measurement(
        "make-test", "`make test`: every layer in parallel workers", make_test, in_quick_mode=False
    ),
    Measurement("image-size", "runtime image size", runtime_image_size),
    Measurement("load", "runtime image under wrk load, container memory", runtime_under_load),
    Measurement(
        "capacity",
        "one web task per stage size: highest rate with p99 within bound",
        web_capacity,
        in_quick_mode=False,
    ),
    Measurement(
        "outage",
        "the runtime web task while LocalStack is paused under uploading clients",
        dependency_outage,
        in_quick_mode=False,
    ),
]
NAMES = [measurement.name for measurement in MEASUREMENTS]


def run_measurements(
    bench: Bench, selected: list[Measurement]
) -> tuple[list[Figure], list[str], bool]:
    """Every selected measurement, each on its own; (figures, not-measured reasons, any failed)."""
    figures: list[Figure] = []
    not_measured: list[str] = []
    failed = False
    for measurement in selected:
        if bench.plan.quick and not measurement.in_quick_mode:
            not_measured.append(f"{measurement.title}: skipped in quick mode")
            continue
        try:
            with step(f"bench {measurement.name}: {measurement.title}"):
                figures += measurement.measure(bench)
        except NotMeasured as reason:
            warn(f"{measurement.name} not measured: {reason}")
            not_measured.append(f"{measurement.title}: {reason}")
        except Exception as error:  # one failed measurement must not cost the others' figures
            failed = True
            warn(f"{measurement.name} failed: {error}")
            not_measured.append(f"{measurement.title}: failed: {_one_line(str(error))}")
    return figures, not_measured, failed


def _one_line(text: str, limit: int = 300) -> str:
    joined = " / ".join(line.strip() for line in text.splitlines() if line.strip())
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def report_path(quick: bool, only: list[str] | None) -> Path:
    if quick:
        return QUICK_REPORT
    return PARTIAL_REPORT if only and set(only) != set(NAMES) else REPORT


# Figures too heavy for `make bench` (a whole dev container build, say) are measured by the test
# that exercises them and recorded by hand under this heading, which a new report carries over.
MEASURED_ELSEWHERE = "## Measured outside `make bench`"


def measured_elsewhere(report: Path) -> str:
    previous = report.read_text() if report.exists() else ""
    _, heading, section = previous.partition(MEASURED_ELSEWHERE)
    return f"\n{heading}{section}" if heading else ""


def reproduce_command(quick: bool, only: list[str] | None) -> str:
    if not only:
        return "make bench QUICK=1" if quick else "make bench"
    return " ".join(["uv run hangar bench", *(["--quick"] if quick else []), "--only", *only])


def bench_command(args: argparse.Namespace) -> int:
    plan = Plan.make(args.quick)
    selected = [m for m in MEASUREMENTS if not args.only or m.name in args.only]
    bench = Bench(plan)
    # Taken before measuring: the tree measured, not whatever it became during a long run.
    commit = current_commit()
    with bench.cleanup:
        figures, not_measured, failed = run_measurements(bench, selected)
    report = render(
        figures,
        commit=commit,
        command=reproduce_command(args.quick, args.only),
        runs=plan.runs,
        warmup=plan.warmup,
        skipped=not_measured,
    )
    path = report_path(args.quick, args.only)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report + measured_elsewhere(path))
    if path != REPORT:
        info(report)
    info(f"wrote {path.relative_to(ROOT)}")
    if failed and not plan.quick:
        warn("some measurements failed; they are listed under 'Not measured' in the report")
        return 1
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure start-up, deploy, reload, test, image, load and outage figures into "
        "docs/benchmarks.md",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"1 run, no warm-up, {QUICK_LOAD_SECONDS} s of load, unit tests only; "
        f"writes {QUICK_REPORT.relative_to(ROOT)} instead of the docs",
    )
    parser.add_argument(
        "--only", nargs="+", choices=NAMES, metavar="NAME", help=f"one of: {', '.join(NAMES)}"
    )
    parser.set_defaults(func=bench_command)
