"""Stopping host-mode LocalStack: SIGTERM, a bounded wait, then SIGKILL — on real processes."""

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hangar.core.processes import ProcessRecord
from hangar.localstack.host import RunDir, is_running, read_running, stop, terminate

IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""
OBEYS_SIGTERM = 'print("ready", flush=True); import time; time.sleep(60)'


@pytest.fixture
def spawn() -> Iterator:
    children: list[subprocess.Popen[str]] = []

    def start(code: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        children.append(child)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"  # its signal handler is installed
        return child

    yield start
    for child in children:
        child.kill()
        child.wait()


def test_process_ignoring_sigterm_is_killed_after_the_grace_period(spawn):
    child = spawn(IGNORES_SIGTERM)
    started = time.monotonic()

    assert terminate(child.pid, grace=0.5) == "killed"

    assert 0.5 <= time.monotonic() - started < 5
    assert not is_running(child.pid)


def test_process_obeying_sigterm_is_not_killed(spawn):
    child = spawn(OBEYS_SIGTERM)
    assert terminate(child.pid, grace=5) == "terminated"
    assert not is_running(child.pid)


def _pid_file(tmp_path: Path, identity: ProcessRecord) -> RunDir:
    run_dir = RunDir(tmp_path)
    record = {"started_at": time.time(), "endpoint": "http://127.0.0.1:4610"}
    run_dir.pid_file.write_text(json.dumps({**record, **json.loads(identity.dumps())}))
    return run_dir


def test_stop_ends_the_recorded_process_and_removes_the_pid_file(tmp_path, spawn):
    child = spawn(OBEYS_SIGTERM)
    run_dir = _pid_file(tmp_path, ProcessRecord.of(child.pid))

    stopped = stop(run_dir)

    assert stopped is not None
    assert stopped.pid == child.pid
    assert not is_running(child.pid)
    assert not run_dir.pid_file.exists()


@pytest.mark.parametrize(
    "reused",
    [
        {"cmdline": ("/some/venv/bin/python", "-m", "localstack.runtime.main")},
        {"started": -1_000_000.0},  # the same command, started long before: another one
    ],
    ids=["another-command", "another-start-time"],
)
def test_a_recycled_pid_is_not_ours_to_stop(tmp_path, spawn, reused):
    child = spawn(OBEYS_SIGTERM)
    run_dir = _pid_file(tmp_path, dataclasses.replace(ProcessRecord.of(child.pid), **reused))

    assert read_running(run_dir) is None
    assert stop(run_dir) is None
    assert is_running(child.pid), "a process Hangar did not start must survive `down`"
    assert not run_dir.pid_file.exists(), "the stale pid file is cleared"
