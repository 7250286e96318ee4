"""Ctrl-C or SIGTERM during `hangar deploy-local`, with the real CDK CLI against a LocalStack of the
test's own: the CLI exits within 10 s and leaves no process behind, and the next deploy-local
succeeds on whatever the interrupted one left in LocalStack.

Before the CDK CLI ran in a process group of its own, an interruption killed cdklocal alone: the
CDK app it was synthesizing (`python app.py` and jsii's node) ran on, orphaned, for up to half a
minute after "interrupted", holding the terminal and writing cdk.out (docker-mode `make dev`
exited 36 s after a Ctrl-C, docs/benchmarks.md). A stack left half-created in LocalStack is
acceptable there (it is ours, and in memory only) only because the next deploy finishes the job.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest
from botocore.exceptions import ClientError

from hangar.bench.interrupts import EXIT_DEADLINE
from hangar.bench.run import preserved
from hangar.core.aws_clients import aws_client
from hangar.core.contract import contract
from hangar.core.paths import LOCAL_ENV_FILE
from hangar.deploy import stacks as infra
from hangar.localstack import commands as localstack

pytestmark = pytest.mark.integration

MARKER = "HANGAR_TEST_DEPLOY_INTERRUPTED"
# How long a deploy-local may take to reach the moment a test waits for, on a loaded machine.
REACH_TIMEOUT = 300.0


@pytest.fixture
def empty_localstack(own_localstack: str) -> Iterator[str]:
    """A LocalStack with nothing deployed, so the deploy creates the stacks; .hangar's files that
    deploy-local rewrites are put back afterwards."""
    localstack.ensure_running("host")
    with preserved(LOCAL_ENV_FILE, infra.OUTPUTS_FILE, infra.DEPLOY_RECORD):
        yield own_localstack


def marked(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["environ", "status"]):
        environ = process.info["environ"] or {}
        if environ.get(MARKER) == marker and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def describe(processes: list[psutil.Process]) -> list[str]:
    described = []
    for process in processes:
        try:
            described.append(f"pid {process.pid}: {' '.join(process.cmdline())[:160]}")
        except psutil.Error:
            continue  # gone meanwhile
    return described


def interrupted_deploy(
    reached: Callable[[str], bool], signals: list[int]
) -> tuple[float, list[str], str]:
    """`hangar deploy-local`, sent `signals` (0.2 s apart) once `reached(marker)`: how long after
    the first one its output closed (what a terminal or a pipe waits for), what still ran when it
    exited, and its output."""
    marker = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "hangar", "deploy-local"],
        env={**os.environ, MARKER: marker},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + REACH_TIMEOUT
        while not reached(marker):
            assert process.poll() is None, "deploy-local ended before the moment:\n" + "".join(
                lines
            )
            assert time.monotonic() < deadline, "the moment never came:\n" + "".join(lines)
            time.sleep(0.1)
        sent = time.monotonic()
        for signum in signals:
            process.send_signal(signum)
            time.sleep(0.2)
        process.wait(timeout=EXIT_DEADLINE * 6)
        left = describe(marked(marker))
        reader.join(timeout=EXIT_DEADLINE * 6)
        return time.monotonic() - sent, left, "".join(lines)
    finally:
        process.kill()
        for leftover in marked(marker):
            with contextlib.suppress(psutil.Error):
                leftover.kill()


def synthesizing(marker: str) -> bool:
    """The CDK CLI runs the CDK app (`python app.py`), which has started jsii's node."""
    for process in marked(marker):
        try:
            if process.cmdline()[-1:] == ["app.py"] and process.children():
                return True
        except psutil.Error:
            continue
    return False


def service_stack_in_progress(endpoint: str) -> Callable[[str], bool]:
    cloudformation = aws_client("cloudformation", region=infra.DEFAULT_REGION, endpoint=endpoint)
    service = contract().stack_names(infra.LOCAL_STAGE)[1]

    def reached(marker: str) -> bool:
        try:
            stack = cloudformation.describe_stacks(StackName=service)["Stacks"][0]
        except ClientError:
            return False  # not created yet
        return bool(stack["StackStatus"].endswith("_IN_PROGRESS"))

    return reached


@pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGTERM]], ids=["Ctrl-C", "SIGTERM"])
def test_interrupted_while_synthesizing_stops_the_cdk_app_too(
    empty_localstack: str, signals: list[int]
) -> None:
    took, left, output = interrupted_deploy(synthesizing, signals)
    assert not left, f"left running after deploy-local exited: {left}\n{output[-2000:]}"
    assert took <= EXIT_DEADLINE, f"output open {took:.1f}s after the signal\n{output[-2000:]}"
    assert "Traceback" not in output, output[-2000:]


def test_a_deploy_interrupted_mid_stack_is_finished_by_the_next(empty_localstack: str) -> None:
    """A Ctrl-C and a second one during the stop, while LocalStack creates the service stack."""
    took, left, output = interrupted_deploy(
        service_stack_in_progress(empty_localstack), [signal.SIGINT, signal.SIGINT]
    )
    assert not left, f"left running after deploy-local exited: {left}\n{output[-2000:]}"
    assert took <= EXIT_DEADLINE, f"output open {took:.1f}s after the signal\n{output[-2000:]}"
    assert "interrupted" in output, output[-2000:]

    # Busy finishing what the interrupted deploy asked for, LocalStack answers its health check
    # late on a loaded machine (2 s), and deploy-local would refuse to start.
    deadline = time.monotonic() + REACH_TIMEOUT
    while not localstack.is_healthy(empty_localstack):
        assert time.monotonic() < deadline, "LocalStack never answered again"
        time.sleep(1)
    env = infra.deploy_local(empty_localstack)
    assert LOCAL_ENV_FILE.read_text() == infra.render_env_file(env)
    cloudformation = aws_client(
        "cloudformation", region=infra.DEFAULT_REGION, endpoint=empty_localstack
    )
    for name in contract().stack_names(infra.LOCAL_STAGE):
        status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        assert status in infra.COMPLETE, f"{name} is {status} after the next deploy-local"
