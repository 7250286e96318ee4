"""Ctrl-C (or SIGTERM, or a second Ctrl-C) at random moments of `make dev`'s start-up: does every
session exit in time, without a traceback, and leave nothing behind?

One attempt starts `hangar dev` in the foreground, sends the signals and reads what is left: every
process the attempt started carries a marker in its environment (children inherit it), and in
docker mode the attempt's compose project must have no container unless the start-up had finished
(a session that reached "Hangar is running" keeps its containers by design: `make down` stops
them). `make bench` runs 30 attempts per mode with a CPU load beside them;
tests/e2e/test_dev_interrupts.py runs fewer, on whatever else the machine is doing.
"""

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import psutil

from hangar.core.processes import interruptible

EXIT_DEADLINE = 10.0  # what a user pressing Ctrl-C is promised
MARKER = "HANGAR_INTERRUPT_ATTEMPT"
HANGAR = (sys.executable, "-m", "hangar")  # the entry point `make` runs


@dataclass(frozen=True)
class Plan:
    """When the signals come: `first` seconds after the start, then each after its `then`."""

    signals: tuple[int, ...]
    first: float
    then: tuple[float, ...] = ()
    # Count `first` from the first output line holding this text, not from the start: a phase of
    # the start-up whatever the machine's load.
    after_line: str = ""


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    exit_seconds: float
    returncode: int
    left: list[str]
    output: str = field(repr=False)

    def problems(self) -> list[str]:
        found = []
        if self.exit_seconds > EXIT_DEADLINE:
            found.append(f"exited {self.exit_seconds:.1f}s after the signal")
        if self.left:
            found.append(f"left {self.left}")
        if self.before_hangar_ran():
            return found  # CPython's own handling, traceback and status; nothing was started
        if "Traceback" in self.output:
            found.append("printed a traceback")
        # 0: stopped as a user ends a session; 130: "interrupted" during the start-up. Killed by
        # the signal itself, which a shell reports as 130 too: it came before Python had installed
        # its handler, or CPython exits so after a KeyboardInterrupt that landed in an exec() of
        # generated code (a dataclass being made), even when the entry point caught it.
        if self.returncode not in (0, 130, -self.plan.signals[0]):
            found.append(f"exit status {self.returncode}")
        return found

    def before_hangar_ran(self) -> bool:
        """The traceback is CPython's own, of its start-up (site, encodings, runpy): the signal
        came before the first line of Hangar's entry point, where no Python code can catch it."""
        frames = [line for line in self.output.splitlines() if line.lstrip().startswith("File ")]
        return bool(frames) and not any(
            "site-packages" in frame or "/hangar/" in frame or "/app/" in frame for frame in frames
        )

    def describe(self) -> str:
        names = "+".join(signal.Signals(s).name for s in self.plan.signals)
        head = f"{names} {self.plan.first:.2f}s after the start: {'; '.join(self.problems())}"
        return f"{head}\n{self.output[-1500:]}"


def random_plans(signals: Sequence[int], count: int, start_up: float, seed: object) -> list[Plan]:
    """`count` plans whose first signal falls anywhere in a start-up of `start_up` seconds (and a
    little after it, when the session already follows its children)."""
    moments = random.Random(str(seed))  # noqa: S311 - moments to test at, not a secret
    return [
        Plan(
            tuple(signals),
            moments.uniform(0, start_up * 1.2),
            tuple(moments.uniform(0.05, 0.5) for _ in signals[1:]),
        )
        for _ in range(count)
    ]


def attempt(
    arguments: Sequence[str],
    env: Mapping[str, str],
    plan: Plan,
    containers_left: Callable[[str], list[str]] = lambda output: [],
) -> Outcome:
    """One interrupted `hangar dev`; `containers_left(output)` names what docker mode left."""
    marker = uuid.uuid4().hex
    interruptible()  # else each session inherits a SIGINT ignored and goes on to its 60 s kill
    process = subprocess.Popen(
        [*HANGAR, *arguments],
        env={**env, MARKER: marker},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    early = _read_until(process, plan.after_line) if plan.after_line else ""
    time.sleep(plan.first)
    process.send_signal(plan.signals[0])
    sent = time.monotonic()
    for delay, signum in zip(plan.then, plan.signals[1:], strict=True):
        time.sleep(delay)
        process.send_signal(signum)
    try:
        output, _ = process.communicate(timeout=EXIT_DEADLINE * 6)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    exit_seconds = time.monotonic() - sent
    output = early + output
    left = [*_kill_marked(marker), *containers_left(output)]
    return Outcome(plan, exit_seconds, process.returncode, left, output)


def _read_until(process: subprocess.Popen[str], text: str) -> str:
    """The output up to and with the first line holding `text` (all of it if none does)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if text in line:
            break
    return "".join(lines)


def seconds_until(url: str, arguments: Sequence[str], env: Mapping[str, str]) -> float:
    """How long an uninterrupted start-up takes until `url` answers (then Ctrl-C ends it)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [*HANGAR, *arguments], env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        while not _answers(url):
            if process.poll() is not None or time.monotonic() - started > 600:
                raise RuntimeError(f"`hangar {' '.join(arguments)}` never answered {url}")
            time.sleep(0.1)
        return time.monotonic() - started
    finally:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
        if process.poll() is None:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:

    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return int(response.status) == 200
    except OSError:
        return False


def _kill_marked(marker: str) -> list[str]:
    """Live processes that carry `marker` (killed, so the next attempt starts clean)."""
    left = []
    for process in psutil.process_iter(["environ", "status", "cmdline"]):
        environ = process.info["environ"] or {}
        if environ.get(MARKER) != marker or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        left.append(f"pid {process.pid}: {' '.join(process.info['cmdline'] or [])[:160]}")
        with contextlib.suppress(psutil.Error):
            process.kill()
    return left


@contextlib.contextmanager
def cpu_load(workers: int | None = None) -> Iterator[None]:
    """A busy loop per core beside the measurement: the loaded machine a CI run can be."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(workers or os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
