"""Host mode's child processes (the dev server, the worker): started, recorded, followed, stopped.

Each child runs in a process group of its own (its autoreloader, server and debugpy adapter), so a
Ctrl-C in the terminal reaches `hangar dev` only, which then stops each whole group. Each child is
recorded in a pid file of the session directory with its start time and command line, so
`hangar down` (another process, maybe after a reboot) stops exactly those processes and never one
that reuses a pid.

`Session` ties the children to the signals that end `hangar dev`. From the moment it is entered,
SIGINT and SIGTERM interrupt whatever runs (a LocalStack start, a migration, the following of the
output), except while a child is being started and recorded: the signal then waits until the child
is in the session. So every child that exists is one the session stops on the way out, whenever
the signal came. A second signal during that stop kills what is left at once.
"""

import contextlib
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

import psutil

from hangar.core.console import info, warn
from hangar.core.processes import (
    KILLED_SECONDS,
    STOP_SIGNALS,
    STOP_TIMEOUT,
    ProcessRecord,
    signals_noted,
    stop_groups,
)

# Every process a session's children start carries the session's mark in its environment, also
# those that leave the child's process group: debugpy's adapter daemonizes (setsid and a double
# fork), so stopping the group misses it, and one left behind holds the debugger's port.
MARK_VARIABLE = "HANGAR_DEV_SESSION"
MARK_FILE = "session.mark"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def pid_file(directory: Path, name: str) -> Path:
    return directory / f"{name}.pid"


def recorded_children(directory: Path) -> dict[str, ProcessRecord]:
    """{name: record} of the children the session directory records that are still those."""
    alive = {}
    for path in sorted(directory.glob("*.pid")):
        try:
            record = ProcessRecord.parse(path.read_text())
        except OSError:
            continue
        if record is not None and record.is_running():
            alive[path.stem] = record
    return alive


def stop_recorded(directory: Path) -> list[str]:
    """Stop every recorded child that still runs, side by side, and what else the session's
    children started; forget every pid file. Returns the names of the children stopped."""
    running = recorded_children(directory)
    killed = stop_groups([record.pid for record in running.values()], STOP_TIMEOUT)
    _warn_killed({name: record.pid for name, record in running.items()}, killed)
    with contextlib.suppress(OSError):  # no session was started there
        stop_marked(directory.joinpath(MARK_FILE).read_text().strip())
    for path in [*directory.glob("*.pid"), directory / MARK_FILE]:
        path.unlink(missing_ok=True)
    return list(running)


def stop_marked(mark: str, timeout: float = 3.0) -> None:
    """SIGTERM the live processes that carry `mark` (of this user: psutil reads their
    environment), SIGKILL those still there after `timeout`."""
    if not mark:
        return
    marked = []
    for process in psutil.process_iter(["environ"]):
        if (process.info["environ"] or {}).get(MARK_VARIABLE) == mark:
            with contextlib.suppress(psutil.Error):
                process.terminate()
                marked.append(process)
    _, alive = psutil.wait_procs(marked, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    # A killed process is gone only once the kernel has run its exit, which a loaded machine
    # delays: a stop that returned before then left a daemon that a check still saw alive.
    psutil.wait_procs(alive, timeout=KILLED_SECONDS)


def run_in_foreground(argv: Sequence[str]) -> int:
    """`argv` until it ends, or until a Ctrl-C or SIGTERM ends this run: then it is stopped too,
    never left behind. A signal that comes while it starts waits until it has a handle to stop
    (inside Popen, the child ran without one: `compose logs --follow` outlived `hangar dev`)."""
    with signals_noted() as deferred:
        process = subprocess.Popen(argv)
    try:
        if deferred.is_set():
            raise KeyboardInterrupt
        return process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _warn_killed(pids: Mapping[str, int], killed: Sequence[int], *, hurried: bool = False) -> None:
    why = (
        "a second signal hurried the stop" if hurried else f"not stopped after {STOP_TIMEOUT:.0f}s"
    )
    for name, pid in pids.items():
        if pid in killed:
            warn(f"{name} (pid {pid}) killed: {why}")


class Session:
    """The children of one `hangar dev` run, stopped when the run ends unless it `keep()`s them."""

    def __init__(self, directory: Path, cwd: Path, *, farewell: str = "") -> None:
        self.directory = directory
        self.cwd = cwd
        self.farewell = farewell
        self.children: list[Child] = []
        self._starting = False
        self._signalled_while_starting = False
        self._stopping = False
        self._hurry = threading.Event()
        self._kept = False
        self._following = False
        self._pumps: list[threading.Thread] = []
        self._previous: dict[int, object] = {}
        self.mark = uuid.uuid4().hex

    def __enter__(self) -> "Session":
        self.directory.joinpath(MARK_FILE).write_text(self.mark + "\n")
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            self._hurry.set()
        elif self._starting:
            self._signalled_while_starting = True
        else:
            raise KeyboardInterrupt

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str], *, log: bool) -> Child:
        """Start `argv` in `cwd`: into its log file when `log` (a detached session), else piped
        for `follow` to copy. The child is in the session before a signal can end the run."""
        self._starting = True
        try:
            with contextlib.ExitStack() as files:
                output: IO[bytes] | int = subprocess.PIPE
                if log:
                    output = files.enter_context((self.directory / f"{name}.log").open("ab"))
                process = subprocess.Popen(
                    argv,
                    cwd=self.cwd,
                    env={**env, MARK_VARIABLE: self.mark},
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            child = Child(name, process)
            self.children.append(child)
            with contextlib.suppress(psutil.Error):  # exited at once: nothing for `down` to stop
                pid_file(self.directory, name).write_text(ProcessRecord.of(process.pid).dumps())
        finally:
            self._starting = False
        if self._signalled_while_starting:
            raise KeyboardInterrupt
        return child

    def keep(self) -> None:
        """The children outlive this run (`--detach`): `hangar down` stops them."""
        self._kept = True

    def follow(self) -> int:
        """Copy the children's output, prefixed, until one exits (status 1) or a signal ends the
        run: the way a user ends the session, so `__exit__` then stops the children and the run
        ends with status 0."""
        width = max(len(child.name) for child in self.children)
        self._pumps = [
            _forward(child, self.directory / f"{child.name}.log", width) for child in self.children
        ]
        self._following = True
        while True:
            exited = next((c for c in self.children if c.process.poll() is not None), None)
            if exited:
                warn(
                    f"{exited.name} exited with code {exited.process.returncode}; stopping the rest"
                )
                return 1
            time.sleep(0.3)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        interrupted = exc_type is KeyboardInterrupt
        while True:  # a signal that lands in the stop itself only hurries it
            try:
                self._stopping = True
                if not self._kept or exc_type is not None:
                    self._stop(announce=interrupted)
                break
            except KeyboardInterrupt:
                self._hurry.set()
                interrupted = True
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        for pump in self._pumps:  # the children's last lines, up to their exit
            pump.join(timeout=2)
        # Interrupted while following: the session ended as a user ends it. Earlier, during the
        # start-up, the interruption goes on to the CLI ("interrupted", status 130).
        return interrupted and self._following

    def _stop(self, *, announce: bool) -> None:
        running = [child for child in self.children if child.process.poll() is None]
        if announce and self.children:
            names = " and ".join(child.name for child in self.children)
            info(f"\nstopping {names}{self.farewell}")
        killed = stop_groups(
            [child.process.pid for child in running],
            STOP_TIMEOUT,
            own=[child.process for child in self.children],
            hurry=self._hurry.is_set,
        )
        pids = {child.name: child.process.pid for child in running}
        _warn_killed(pids, killed, hurried=self._hurry.is_set())
        stop_marked(self.mark, timeout=0 if self._hurry.is_set() else 3.0)
        for child in self.children:
            pid_file(self.directory, child.name).unlink(missing_ok=True)
        self.directory.joinpath(MARK_FILE).unlink(missing_ok=True)


def _forward(child: Child, log_path: Path, width: int) -> threading.Thread:
    """Copy the child's output to ours (prefixed with its name) and to its log file."""
    assert child.process.stdout is not None
    source: IO[bytes] = child.process.stdout
    prefix = f"{child.name:<{width}} | "

    def pump() -> None:
        with log_path.open("ab") as log:
            for line in iter(source.readline, b""):
                log.write(line)
                log.flush()
                sys.stdout.write(prefix + line.decode(errors="replace"))
                sys.stdout.flush()

    thread = threading.Thread(target=pump, name=f"forward-{child.name}", daemon=True)
    thread.start()
    return thread
