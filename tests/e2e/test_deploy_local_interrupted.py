"""Ctrl-C or SIGTERM during `hangar deploy-local`, with the real CDK CLI against a LocalStack of the
test's own: the CLI exits within 10 s and leaves no process behind, and the next deploy-local
succeeds on whatever the interrupted one left in LocalStack.

Each deploy runs in a copy of the checkout (tests/e2e/checkout_copy.py): it synthesizes into the
copy's cdk.out and writes the copy's .hangar, so an interrupted synthesis never leaves this
checkout's assembly half-written under the tests that deploy the local stage beside it, and every
deploy here synthesizes (nothing was synthesized in the copy before).

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from botocore.exceptions import ClientError
from checkout_copy import make_copy

from hangar.bench.interrupts import EXIT_DEADLINE
from hangar.core.aws_clients import aws_client
from hangar.core.contract import contract
from hangar.core.stages import LOCAL_STAGE
from hangar.deploy import local_stage
from hangar.deploy import stacks as infra
from hangar.localstack import commands as localstack

pytestmark = pytest.mark.e2e

MARKER = "HANGAR_TEST_DEPLOY_INTERRUPTED"
# How long a deploy-local may take to reach the moment a test waits for, on a loaded machine.
REACH_TIMEOUT = 300.0


@dataclass(frozen=True)
class Deploying:
    """A copy of the checkout and the empty LocalStack its deploy-local deploys into."""

    root: Path
    endpoint: str

    def run(self, marker: str) -> subprocess.Popen[str]:
        """The copy's own `hangar deploy-local`, its descendants marked with `marker`."""
        env = {
            **os.environ,
            "PYTHONPATH": str(self.root / "scripts"),
            "LOCALSTACK_ENDPOINT": self.endpoint,
            MARKER: marker,
        }
        return subprocess.Popen(
            [sys.executable, "-m", "hangar", "deploy-local"],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture
def deploying(own_localstack: str, tmp_path: Path) -> Deploying:
    localstack.ensure_running("host")
    root = tmp_path / "checkout"
    make_copy(root)
    return Deploying(root, own_localstack)


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
    deploying: Deploying, reached: Callable[[str], bool], signals: list[int]
) -> tuple[float, list[str], str]:
    """`hangar deploy-local`, sent `signals` (0.2 s apart) once `reached(marker)`: how long after
    the first one its output closed (what a terminal or a pipe waits for), what still ran when it
    exited, and its output, each line after the first signal with its time since ("[+0.3s] "),
    and the moment it exited among them: a slow stop shows where its seconds went."""
    marker = uuid.uuid4().hex
    process = deploying.run(marker)
    lines: list[str] = []
    sent: float | None = None

    def read() -> None:
        for line in process.stdout or []:
            lines.append(line if sent is None else f"[+{time.monotonic() - sent:.1f}s] {line}")

    reader = threading.Thread(target=read, daemon=True)
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
        lines.append(f"[+{time.monotonic() - sent:.1f}s] (deploy-local exited)\n")
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
    service = contract().stack_names(LOCAL_STAGE)[1]

    def reached(marker: str) -> bool:
        try:
            stack = cloudformation.describe_stacks(StackName=service)["Stacks"][0]
        except ClientError:
            return False  # not created yet
        return bool(stack["StackStatus"].endswith("_IN_PROGRESS"))

    return reached


@pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGTERM]], ids=["Ctrl-C", "SIGTERM"])
def test_interrupted_while_synthesizing_stops_the_cdk_app_too(
    deploying: Deploying, signals: list[int]
) -> None:
    took, left, output = interrupted_deploy(deploying, synthesizing, signals)
    assert not left, f"left running after deploy-local exited: {left}\n{output[-2000:]}"
    assert took <= EXIT_DEADLINE, f"output open {took:.1f}s after the signal\n{output[-2000:]}"
    assert "Traceback" not in output, output[-2000:]


def test_a_deploy_interrupted_mid_stack_is_finished_by_the_next(deploying: Deploying) -> None:
    """A Ctrl-C and a second one during the stop, while LocalStack creates the service stack."""
    took, left, output = interrupted_deploy(
        deploying, service_stack_in_progress(deploying.endpoint), [signal.SIGINT, signal.SIGINT]
    )
    assert not left, f"left running after deploy-local exited: {left}\n{output[-2000:]}"
    assert took <= EXIT_DEADLINE, f"output open {took:.1f}s after the signal\n{output[-2000:]}"
    assert "interrupted" in output, output[-2000:]

    # Busy finishing what the interrupted deploy asked for, LocalStack answers its health check
    # late on a loaded machine (2 s), and deploy-local would refuse to start.
    deadline = time.monotonic() + REACH_TIMEOUT
    while not localstack.is_healthy(deploying.endpoint):
        assert time.monotonic() < deadline, "LocalStack never answered again"
        time.sleep(1)
    again = deploying.run(uuid.uuid4().hex)
    output, _ = again.communicate(timeout=REACH_TIMEOUT)
    assert again.returncode == 0, output[-3000:]
    # The stage's outputs, the secret key the platform adds among them.
    assert "\nDJANGO_SECRET_KEY=" in (deploying.root / ".hangar" / "local.env").read_text()
    cloudformation = aws_client(
        "cloudformation", region=infra.DEFAULT_REGION, endpoint=deploying.endpoint
    )
    for name in contract().stack_names(LOCAL_STAGE):
        status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        assert status in local_stage.COMPLETE, f"{name} is {status} after the next deploy-local"
