"""compose.yaml end to end: every service healthy, and an upload travels web → S3 → SQS → worker.

Runs in its own compose project on free host ports (see conftest.py) and takes it down at the end.
"""

import hashlib
import json
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest
from compose_project import Compose, http

from hangar import infra
from hangar.paths import LOCAL_ENV_FILE

pytestmark = pytest.mark.e2e

SERVICES = {"web", "worker", "db", "localstack"}


def services(compose: Compose) -> dict[str, dict[str, str]]:
    """`compose ps` as {service: row}; the format is one JSON object per line on compose 2.21+."""
    output = compose.run("ps", "--all", "--format=json").stdout
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    return {row["Service"]: row for row in rows}


@pytest.fixture(scope="module")
def local_env_restored() -> Iterator[None]:
    """deploy_local writes the developer's .hangar/local.env; put theirs back afterwards."""
    saved = LOCAL_ENV_FILE.read_bytes() if LOCAL_ENV_FILE.exists() else None
    yield
    if saved is None:
        LOCAL_ENV_FILE.unlink(missing_ok=True)
    else:
        LOCAL_ENV_FILE.write_bytes(saved)


@pytest.fixture(scope="module")
def local_stage(compose: Compose, local_env_restored: None) -> dict[str, str]:
    """db and LocalStack healthy, then the `local` stage deployed into this stack's LocalStack."""
    started = time.monotonic()
    compose.run("up", "--detach", "--wait", "db", "localstack", timeout=600)
    print(f"\ndb + localstack healthy in {time.monotonic() - started:.1f}s")
    return infra.deploy_local(f"http://127.0.0.1:{compose.ports['LOCALSTACK_PORT']}")


@pytest.fixture(scope="module")
def stack(compose: Compose, local_stage: dict[str, str]) -> Compose:
    """The app services, started once .hangar/local.env holds the stage's outputs."""
    started = time.monotonic()
    result = compose.run("up", "--detach", "--wait", "--build", timeout=1200, check=False)
    assert result.returncode == 0, f"compose up failed:\n{result.stderr[-3000:]}\n{compose.logs()}"
    print(f"app images built and web/worker up in {time.monotonic() - started:.1f}s")
    return compose


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
    stack: Compose, local_stage: dict[str, str]
) -> None:
    web = f"http://127.0.0.1:{stack.ports['WEB_PORT']}"
    body = f"e2e upload {uuid.uuid4()}\n".encode()
    boundary = uuid.uuid4().hex
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="e2e.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, created = http(
        f"{web}/api/documents/",
        data=multipart,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 201, created
    document = json.loads(created)

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{stack.ports['LOCALSTACK_PORT']}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stored = s3.get_object(Bucket=local_stage["DOCUMENTS_BUCKET"], Key=document["storage_key"])[
        "Body"
    ].read()
    assert stored == body

    deadline = time.monotonic() + 60
    while document["status"] in {"pending", "processing"} and time.monotonic() < deadline:
        time.sleep(1)
        document = json.loads(http(f"{web}/api/documents/{document['id']}/")[1])
    assert document["status"] == "processed", f"{document}\n{stack.logs()}"
    # Only processing reads the object back from S3 and hashes it.
    assert document["sha256"] == hashlib.sha256(body).hexdigest()
    assert document["id"] in stack.run("logs", "--no-color", "worker").stdout


def test_down_leaves_no_containers(stack: Compose) -> None:
    stack.run("down", "--volumes", "--timeout=10")
    remaining = stack.run("ps", "--all", "--quiet").stdout.split()
    assert remaining == []
