"""compose.yaml end to end: every service the contract asks for is up and healthy (the worker when a
queue declares one), and migrations ran once. What the project does on that stack is for its own
tests to show (the sample's: an upload through web → S3 → SQS → its worker).

Runs in the test run's compose project on free host ports; conftest.py takes it down at the end
of the session and checks that no container is left.
"""

import json

import pytest

from hangar.core.contract import contract
from hangar.testing.containers import Compose

pytestmark = pytest.mark.e2e

SERVICES = {"web", "db", "localstack"} | ({"worker"} if contract().worker_command else set())


def services(compose: Compose) -> dict[str, dict[str, str]]:
    """`compose ps` as {service: row}; the format is one JSON object per line on compose 2.21+."""
    output = compose.run("ps", "--all", "--format=json").stdout
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    return {row["Service"]: row for row in rows}


def test_compose_file_is_valid(compose: Compose) -> None:
    compose.run("config", "--quiet")


def test_every_service_is_up_and_healthy(stack: Compose) -> None:
    rows = services(stack)
    assert rows.keys() >= SERVICES, f"missing services: {SERVICES - rows.keys()}"
    for name in SERVICES:
        assert rows[name]["State"] == "running", f"{name}: {rows[name]['State']}\n{stack.logs()}"
    for name in ("web", "db", "localstack"):
        assert rows[name]["Health"] == "healthy", f"{name}: {rows[name]['Health']}"
    assert rows["migrate"]["State"] == "exited"
    assert rows["migrate"]["ExitCode"] == 0
