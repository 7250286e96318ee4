"""hangar.core.processes.run_in_own_group: interrupted, the CLI stops the tool together with the
children the tool started (as the CDK CLI starts the CDK app), never the tool alone; a further
signal during that stop kills at once what ignores SIGTERM (real processes, real signals)."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from hangar.core.processes import run_in_own_group


def tool(tmp_path: Path, child: str) -> list[str]:
    """A tool that starts `child` in the background, records its pid, and waits for it."""
    return ["sh", "-c", f"{child} & echo $! > {tmp_path / 'child'}; wait"]


def signal_once_started(tmp_path: Path, signals: list[int]) -> threading.Thread:
    """Sends `signals` to this process once the tool has started its child: the first 0.3 s
    after, each further one once the stop the first began has put its own handler in place.
    Sent sooner, on a loaded machine two signals could reach the main thread as one (Python runs
    a signal's handler when that thread next runs; a second signal before then is lost)."""

    def send() -> None:
        deadline = time.monotonic() + 60
        while not (tmp_path / "child").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        interrupting = signal.getsignal(signal.SIGINT)
        first, *further = signals
        os.kill(os.getpid(), first)
        for signum in further:
            deadline = time.monotonic() + 120
            while signal.getsignal(signal.SIGINT) is interrupting and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def child_pid(tmp_path: Path) -> int:
    return int((tmp_path / "child").read_text())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_tool_is_stopped_with_its_children(tmp_path: Path, signum: int) -> None:
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)  # as hangar.__main__
    try:
        sender = signal_once_started(tmp_path, [signum])
        with pytest.raises(KeyboardInterrupt):
            run_in_own_group(tool(tmp_path, "sleep 60"))
        sender.join()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not alive(child_pid(tmp_path)), "the tool's child outlived the interruption"


def test_a_second_signal_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = "sh -c \"trap '' TERM; while :; do sleep 0.1; done\""
    sender = signal_once_started(tmp_path, [signal.SIGINT, signal.SIGINT])
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_in_own_group(["sh", "-c", f"trap '' TERM; {tool(tmp_path, stubborn)[2]}"], timeout=600)
    sender.join()
    assert time.monotonic() - started < 300, "the second signal did not hurry the stop"
    assert not alive(child_pid(tmp_path))


def test_the_exit_status_is_the_tools(tmp_path: Path) -> None:
    assert run_in_own_group(["sh", "-c", "exit 3"]) == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


INTERRUPT_ITSELF = """
import os, signal, sys, time
from hangar.core.processes import interruptible
if sys.argv[1] == "interruptible":
    interruptible()
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(1)  # a handler runs as kill() returns: only an ignored SIGINT sleeps this out
except KeyboardInterrupt:
    sys.exit(130)
"""


@pytest.mark.parametrize(("call", "status"), [("interruptible", 130), ("as-inherited", 0)])
def test_a_sigint_ignored_at_the_start_interrupts_again(call: str, status: int) -> None:
    """Started as a shell without job control starts `make test &`: SIGINT ignored, which Python
    keeps. interruptible() gives it back its handler; without it, the SIGINT is lost."""
    ignoring = subprocess.run(
        [sys.executable, "-c", INTERRUPT_ITSELF, call],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        timeout=60,
        check=False,
    )
    assert ignoring.returncode == status
