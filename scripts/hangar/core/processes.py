"""Child processes: running the tools the CLI drives (failing with their output, or probing), and
recognising and stopping the long-running ones it started earlier."""

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from hangar.core.errors import HangarError


def run(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: IO[bytes] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command`, failing with its output when it fails, so a broken step says why."""
    result = subprocess.run(
        command, cwd=cwd, env=env, stdin=stdin, text=True, capture_output=True, check=False
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-2000:]
        raise HangarError(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{output}")
    return result


# A child group still running this long after SIGTERM is killed: a whole stop stays under 10 s.
STOP_TIMEOUT = 6.0
# What ends the CLI (Ctrl-C, and SIGTERM, which hangar.__main__ turns into a Ctrl-C).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def interruptible() -> None:
    """Give SIGINT back Python's handler where this process inherited it ignored, as a shell
    without job control starts a background command (`make test &`, a CI step's `&`). Its children
    inherit the disposition too: a `hangar dev` that a bench or a test interrupts would ignore the
    Ctrl-C and wait out its deadline."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def signals_noted() -> Iterator[threading.Event]:
    """While the block runs, SIGINT and SIGTERM only set the event it yields instead of
    interrupting it: for what must not be cut short (starting a child and taking its handle,
    stopping one). Off the main thread, where no signal handler runs, the block runs as it is."""
    noted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = {signum: signal.signal(signum, lambda n, f: noted.set()) for signum in STOP_SIGNALS}
    try:
        yield noted
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_in_own_group(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = STOP_TIMEOUT,
) -> int:
    """Run `command` in a process group of its own, its output streaming through; its exit status.

    For a tool that starts children of its own (the CDK CLI runs the CDK app, which runs jsii's
    node): when this run is interrupted, its whole group is stopped before the interruption goes
    on. `subprocess.run` would kill the tool alone, and its children ran on, orphaned, holding the
    terminal and writing cdk.out for half a minute after the CLI had said "interrupted". In a group
    of its own, a terminal's Ctrl-C reaches this process only, which decides: SIGTERM to the group
    (the CDK CLI and Python end at once), SIGKILL after `timeout` or at a further signal.
    """
    process = None
    try:  # from the moment the handlers come back, a signal finds the process to stop
        with signals_noted() as interrupted:
            process = subprocess.Popen(list(command), cwd=cwd, env=env, start_new_session=True)
        if interrupted.is_set():
            raise KeyboardInterrupt
        return process.wait()
    except BaseException:
        if process is not None:
            with signals_noted() as hurried:
                stop_groups([process.pid], timeout, own=[process], hurry=hurried.is_set)
        raise


def succeeds(command: Sequence[str], timeout: float = 30.0) -> bool:
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


# --- which process a pid file names, and stopping process groups ---------------------------------


# How long a SIGKILLed process may take to be gone.
KILLED_SECONDS = 5.0
# How far one process's start time, as two reads give it, may differ. On Linux a read takes the
# process's start (clock ticks since boot, which never change) and /proc/stat's boot time, a whole
# second that the kernel recomputes from the wall clock: it flips by one when the clock is slewed.
START_TIME_TOLERANCE = 2.0
# How long an exec may take to set up the new program's arguments (microseconds when idle).
EXEC_SECONDS = 10.0


def start_time(process: psutil.Process) -> float:
    """When `process` started, in a measure that a step of the wall clock leaves alone.

    psutil's create_time() on Linux is the start since boot plus the boot time, which the kernel
    moves with every step of the wall clock (NTP, a VM resumed from a snapshot): a process started
    before a step would read as another one after it. Linux therefore compares seconds since boot,
    the measure psutil's own pid-reuse check uses; elsewhere the kernel stores the start itself
    (macOS's p_starttime), which no later step changes.
    """
    if psutil.LINUX:
        return process.create_time() - psutil.boot_time()
    return process.create_time()


@dataclass(frozen=True)
class ProcessRecord:
    """A process as a pid file records it: its pid, the time it started and its command line.

    A pid alone is no identity: after the process exits (or the machine reboots) the number goes to
    another process, which a stop must never signal. The start time and command line tell them
    apart on every platform psutil serves (Linux's /proc, macOS's sysctl), and a process that
    cannot be read (another user's) is never taken for ours.
    """

    pid: int
    started: float  # start_time(): seconds since boot on Linux
    cmdline: tuple[str, ...]

    @classmethod
    def of(cls, pid: int) -> "ProcessRecord":
        """The record of a live process, taken once its exec has finished.

        Popen returns when the child's exec closes its close-on-exec pipe, which the kernel does
        before it sets the new program's arguments: until then the command line reads empty (a
        quarter of the reads right after Popen here). A record taken then matched the process
        never again, and a stop left that LocalStack running. So this waits for the arguments.
        """
        process = psutil.Process(pid)
        deadline = time.monotonic() + EXEC_SECONDS
        while not (cmdline := process.cmdline()) and time.monotonic() < deadline:
            time.sleep(0.005)
        # Still empty: a process that never finished its exec, and a record that never matches.
        return cls(pid, start_time(process), tuple(cmdline))

    @classmethod
    def parse(cls, text: str) -> "ProcessRecord | None":
        """The record `dumps` wrote, or None for anything else (an older plain pid, garbage)."""
        try:
            fields = json.loads(text)
            return cls(int(fields["pid"]), float(fields["started"]), tuple(fields["cmdline"]))
        except (ValueError, TypeError, KeyError):
            return None

    def dumps(self) -> str:
        fields = {"pid": self.pid, "started": self.started, "cmdline": list(self.cmdline)}
        return json.dumps(fields) + "\n"

    def is_running(self) -> bool:
        """Still this process: alive, not a zombie, same start time (as psutil compares it) and
        command line."""
        try:
            process = psutil.Process(self.pid)
            with process.oneshot():
                return (
                    process.status() != psutil.STATUS_ZOMBIE
                    and abs(start_time(process) - self.started) < START_TIME_TOLERANCE
                    and tuple(process.cmdline()) == self.cmdline
                )
        except psutil.Error:  # gone, a zombie that cannot be read, or not ours to read
            return False


def stop_groups(
    pids: Sequence[int],
    timeout: float,
    *,
    own: Sequence[subprocess.Popen[bytes]] = (),
    hurry: Callable[[], bool] = lambda: False,
) -> list[int]:
    """SIGTERM the process groups these leaders lead, all at once, then SIGKILL what is left after
    `timeout` (or as soon as `hurry()` says so: a second Ctrl-C). Returns the leaders killed.

    The caller has made sure each pid is still its process (`ProcessRecord.is_running`, or a child
    of its own that it has not reaped). The groups stop side by side, so the whole stop takes as
    long as the slowest. `own` are this process's children: they are reaped here, since an exited
    but unreaped leader keeps its group alive to killpg.
    """
    for pid in pids:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if _group_alive(pid, own)]) and (
        time.monotonic() < deadline and not hurry()
    ):
        time.sleep(0.05)
    for pid in alive:
        _signal_group(pid, signal.SIGKILL)
    for process in own:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=KILLED_SECONDS)
    # A killed process is gone only once the kernel has run its exit, which a loaded machine
    # delays: returning before then left a member that a check still saw running.
    gone_by = time.monotonic() + KILLED_SECONDS
    while any(_group_alive(pid, own) for pid in alive) and time.monotonic() < gone_by:
        time.sleep(0.02)
    return alive


def _group_alive(pid: int, own: Sequence[subprocess.Popen[bytes]]) -> bool:
    for process in own:
        if process.pid == pid:
            process.poll()
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal: the group still exists
        return True
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
