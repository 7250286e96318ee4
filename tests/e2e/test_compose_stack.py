"""compose.yaml end to end: every service healthy, and an upload travels web → S3 → SQS → worker.

Runs in the test run's compose project on free host ports; conftest.py takes it down at the end
of the session and checks that no container is left.
"""

import hashlib
import json
import uuid

import pytest
from compose_project import Session, local_s3, until_handled, upload_text

from hangar.testing.containers import Compose

pytestmark = pytest.mark.e2e

SERVICES = {"web", "worker", "db", "localstack"}


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


def test_an_upload_is_stored_in_s3_and_processed_by_the_worker(
    stack: Compose, local_stage: dict[str, str], dev_user: tuple[str, str]
) -> None:
    session = Session(f"http://127.0.0.1:{stack.ports['WEB_PORT']}", *dev_user)
    body = f"e2e upload {uuid.uuid4()}\n".encode()
    document = upload_text(session, "e2e.txt", body)

    s3 = local_s3(stack.ports["LOCALSTACK_PORT"])
    stored = s3.get_object(Bucket=local_stage["DOCUMENTS_BUCKET"], Key=document["storage_key"])
    assert stored["Body"].read() == body

    document = until_handled(session, document, timeout=60)
    assert document["status"] == "processed", f"{document}\n{stack.logs()}"
    # Only processing reads the object back from S3 and hashes it.
    assert document["sha256"] == hashlib.sha256(body).hexdigest()
    assert document["id"] in stack.run("logs", "--no-color", "worker").stdout
