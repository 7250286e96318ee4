"""Host mode's children and the signals that end `hangar dev`: whenever SIGINT or SIGTERM comes,
every child started so far is stopped, and none is left behind (real processes, real signals)."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from hangar.devloop import children

# Each child appends its pid to `started` before it sleeps, so a child the session lost track of
# would still be found. No `exec`: the command line must stay the one the pid file records.
CHILD = ["sh", "-c", "echo $$ >> started; sleep 60"]
STUBBORN = ["sh", "-c", "trap '' TERM; echo $$ >> started; while :; do sleep 0.1; done"]


def run_session(directory: Path, argv: list[str], signals: list[tuple[float, int]]) -> list[int]:
    """Start three children and follow them while `signals` ([(delay, signum)]) reach this process
    from another thread; returns the pids the children wrote."""
    timers = [threading.Timer(delay, os.kill, (os.getpid(), signum)) for delay, signum in signals]
    try:
        with children.Session(directory, directory) as session:
            for timer in timers:  # from here on the session owns SIGINT and SIGTERM
                timer.start()
            for name in ("web", "worker", "beat"):
                session.start(name, argv, dict(os.environ), log=False)
            session.follow()  # until a signal ends the run, as a user ends it
    except KeyboardInterrupt:
        pass  # it came during the start: the CLI says "interrupted"
    for timer in timers:
        timer.join()
    started = directory / "started"
    return [int(pid) for pid in started.read_text().split()] if started.exists() else []


def leftover(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:  # ZombieProcess too: exited, not yet reaped
            continue
    return alive


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_any_moment_of_the_start_leaves_no_child(tmp_path: Path, signum: int) -> None:
    moments = random.Random(signum)
    for attempt in range(12):
        directory = tmp_path / str(attempt)
        directory.mkdir()
        pids = run_session(directory, CHILD, [(moments.uniform(0, 0.08), signum)])
        assert not leftover(pids), f"attempt {attempt}: children left running"
        assert not list(directory.glob("*.pid")), f"attempt {attempt}: pid files left"


def test_a_second_signal_during_the_stop_kills_what_is_left_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Children ignoring SIGTERM would hold the stop for STOP_TIMEOUT: a second Ctrl-C ends it."""
    started = time.monotonic()
    pids = run_session(tmp_path, STUBBORN, [(1.0, signal.SIGINT), (1.5, signal.SIGINT)])
    took = time.monotonic() - started
    assert len(pids) == 3
    assert not leftover(pids)
    assert took < 1.5 + children.STOP_TIMEOUT, f"the second Ctrl-C did not hurry the stop ({took})"
    assert "killed: a second signal hurried the stop" in capsys.readouterr().err


def test_the_signal_handlers_are_restored(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run_session(tmp_path, CHILD, [(0.2, signal.SIGINT)])
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_kept_session_leaves_its_children_for_hangar_down(tmp_path: Path) -> None:
    with children.Session(tmp_path, tmp_path) as session:
        session.start("web", CHILD, dict(os.environ), log=True)
        session.keep()
    (child,) = session.children
    try:
        assert child.process.poll() is None
        assert children.recorded_children(tmp_path).keys() == {"web"}
        assert children.stop_recorded(tmp_path) == ["web"]
        child.process.wait(timeout=30)
        assert not list(tmp_path.glob("*.pid"))
    finally:
        if child.process.poll() is None:
            child.process.kill()
        child.process.wait()


def test_a_child_that_exits_ends_the_session_with_status_1(tmp_path: Path) -> None:
    with children.Session(tmp_path, tmp_path) as session:
        session.start("web", ["sh", "-c", "exit 3"], dict(os.environ), log=False)
        session.start("worker", CHILD, dict(os.environ), log=False)
        assert session.follow() == 1
    assert all(child.process.poll() is not None for child in session.children)


# Leaves the process group and the session as debugpy's adapter does (setsid, then a fork whose
# parent exits), and records the daemon's pid in `daemon`.
DAEMONIZING = [
    sys.executable,
    "-c",
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        open('daemon', 'w').write(str(os.getpid()))\n"
    "        time.sleep(60)\n"
    "    os._exit(0)\n"
    "time.sleep(60)\n",
]


@pytest.mark.parametrize("kept", [False, True], ids=["foreground", "hangar down"])
def test_what_a_child_daemonized_is_stopped_with_the_session(tmp_path: Path, kept: bool) -> None:
    """Stopping the child's process group misses a daemon it started; the session's mark in
    every descendant's environment finds it."""
    with children.Session(tmp_path, tmp_path) as session:
        session.start("web", DAEMONIZING, dict(os.environ), log=True)
        daemon = tmp_path / "daemon"
        deadline = time.monotonic() + 60
        while not daemon.exists() or not daemon.read_text():
            assert time.monotonic() < deadline, "the daemon never started"
            time.sleep(0.05)
        if kept:
            session.keep()
    if kept:
        children.stop_recorded(tmp_path)
    assert not leftover([int(daemon.read_text())]), "the daemonized process outlived the stop"


def test_a_foreground_command_gives_its_exit_status() -> None:
    assert children.run_in_foreground([sys.executable, "-c", "raise SystemExit(3)"]) == 3


def test_a_signal_while_the_foreground_command_starts_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Ctrl-C lands inside Popen, before the caller holds the handle: `subprocess.run` then
    left `compose logs --follow` running after `hangar dev` exited (a bench run hung on it)."""
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen_then_ctrl_c(argv: list[str]) -> subprocess.Popen[bytes]:
        started.append(real_popen(argv))
        os.kill(os.getpid(), signal.SIGINT)
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", popen_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        children.run_in_foreground([sys.executable, "-c", "import time; time.sleep(60)"])
    assert started[0].poll() is not None, "the command outlived the run"
