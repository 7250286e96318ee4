"""Which process a pid file names: a stop signals only the process that was started, never one that
reuses its pid (another command line, another start time), on any platform."""

import dataclasses
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hangar.core.processes import ProcessRecord, stop_groups

# Sleeps; with an argument, ignores SIGTERM but reports on stdout, when SIGTERM comes, whether the
# process the argument names was still alive then.
SLEEP = """
import os, signal, sys, time
def report(signum, frame):
    try:
        os.kill(int(sys.argv[1]), 0)
        print("the other was alive", flush=True)
    except ProcessLookupError:
        print("the other was gone", flush=True)
if len(sys.argv) > 1:
    signal.signal(signal.SIGTERM, report)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def start() -> Iterator:
    started: list[subprocess.Popen[bytes]] = []

    def run(*extra: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-c", SLEEP, *extra], stdout=subprocess.PIPE, start_new_session=True
        )
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"  # its handler is installed
        return process

    yield run
    for process in started:
        process.kill()
        process.wait()


def test_a_record_names_its_process_until_it_exits(start) -> None:
    process = start()
    record = ProcessRecord.of(process.pid)
    assert ProcessRecord.parse(record.dumps()) == record
    assert record.is_running()
    process.kill()
    process.wait()
    assert not record.is_running()


def test_a_record_taken_as_popen_returns_names_the_process() -> None:
    """Popen returns before the kernel has set the new program's arguments: a quarter of the reads
    right after it saw an empty command line here, and a record of that never matched again. Forty
    starts in a row, each recorded at once, all name their process."""
    for _ in range(40):
        process = subprocess.Popen(["sleep", "60"], start_new_session=True)
        try:
            record = ProcessRecord.of(process.pid)
            assert record.cmdline == ("sleep", "60")
            assert record.is_running()
        finally:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    "other",
    [{"cmdline": ("python", "manage.py", "runserver")}, {"started": -1_000_000.0}],
    ids=["another-command-line", "another-start-time"],
)
def test_a_live_pid_with_another_identity_is_not_the_recorded_process(start, other) -> None:
    process = start()
    assert not dataclasses.replace(ProcessRecord.of(process.pid), **other).is_running()


def test_a_start_time_read_a_second_apart_is_the_same_process(start) -> None:
    """Linux computes a start time from /proc/stat's boot time, a whole second that flips by one
    when the wall clock is slewed: the same process, read twice, may differ by that second."""
    process = start()
    record = ProcessRecord.of(process.pid)
    for skew in (-1.0, 1.0):
        assert dataclasses.replace(record, started=record.started + skew).is_running()


@pytest.mark.skipif(not psutil.LINUX, reason="Linux derives start times from the boot time")
def test_a_step_of_the_wall_clock_leaves_the_record_naming_its_process(
    start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A VM resumed from a snapshot steps its wall clock, and Linux moves /proc/stat's boot time
    with it (simulated: psutil reads a boot time 5 minutes later). A LocalStack started before the
    step is still the one its pid file names."""
    process = start()
    record = ProcessRecord.of(process.pid)
    wall_clock_start = psutil.Process(process.pid).create_time()
    booted = psutil.boot_time()
    monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: booted + 300)
    assert psutil.Process(process.pid).create_time() == pytest.approx(wall_clock_start + 300)
    assert record.is_running()


@pytest.mark.parametrize("text", ["1234\n", "not json", '{"pid": 1}', "[]"])
def test_anything_but_a_whole_record_is_no_record(text: str) -> None:
    assert ProcessRecord.parse(text) is None


def test_where_processes_cannot_be_read_no_pid_is_taken_for_ours(
    start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A platform without /proc (simulated: psutil's process file system is an empty folder)
    must fail closed. The guards this replaces answered "ours" for any live pid there."""
    process = start()
    record = ProcessRecord.of(process.pid)
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(tmp_path))
    assert not record.is_running()
    monkeypatch.undo()
    assert record.is_running()


def test_groups_stop_side_by_side_and_the_stubborn_ones_are_killed(start) -> None:
    """Each stubborn process ignores SIGTERM and tells whether the other was still alive when its
    own SIGTERM came: one after the other, the second would get it only once the first was killed.
    """
    first = start("0")
    second = start(str(first.pid))
    killed = stop_groups([first.pid, second.pid], timeout=1.0, own=[first, second])
    assert killed == [first.pid, second.pid]
    assert (first.returncode, second.returncode) == (-9, -9)
    assert second.communicate()[0] == b"the other was alive\n"


def test_a_process_that_obeys_sigterm_is_not_killed(start) -> None:
    polite = start()
    assert stop_groups([polite.pid], timeout=60, own=[polite]) == []
    assert polite.returncode == -15


def test_a_hurried_stop_kills_at_once(start) -> None:
    stubborn = start("0")
    started = time.monotonic()
    assert stop_groups([stubborn.pid], timeout=600, own=[stubborn], hurry=lambda: True) == [
        stubborn.pid
    ]
    assert time.monotonic() - started < 300, "waited for the timeout although hurried"
