"""/readyz against a LocalStack that really stops and comes back.

A LocalStack of its own, on a spare port, so the shared instance the other tests deploy into is
never interrupted. The free LocalStack keeps no state across restarts, so after the restart the
test recreates the bucket and queue, as a redeploy would; the app process is never reconfigured.
"""

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from hangar.core import ports
from hangar.localstack import commands as localstack
from hangar.localstack import host as localstack_host

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BUCKET = "hangar-readiness"
QUEUE = "hangar-readiness"


@pytest.fixture
def own_localstack(localstack_host_venv, monkeypatch) -> Iterator[str]:
    port = ports.spare_port()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", endpoint)
    monkeypatch.setenv("HANGAR_LOCALSTACK_MODE", "host")
    # Not the session's localstack_endpoint, which exports these: run alone, boto3 had none.
    for name, value in localstack.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    try:
        yield endpoint
    finally:
        localstack_host.stop(localstack_host.RunDir.for_port(port))


def _create_resources(endpoint: str) -> str:
    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
        )

    client("s3").create_bucket(Bucket=BUCKET)
    return client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]


def test_readyz_names_s3_and_sqs_while_localstack_is_stopped_and_recovers(
    own_localstack, settings, admin_client
):
    client = admin_client  # staff: /readyz shows them the error of each check
    handle = localstack.ensure_running("host")
    assert handle.started_by_us
    # Which dependency is named is the point here, not the deadline (tests/unit covers it): on a
    # loaded machine the database check's new connection once took longer than the default 2 s,
    # and under `make test`'s load one of this test's /readyz calls answered 503 after 6.5 s.
    settings.READINESS_TIMEOUT = 15.0
    settings.AWS_ENDPOINT_URL = own_localstack
    settings.DOCUMENTS_BUCKET = BUCKET
    settings.TASKS_QUEUE_URL = _create_resources(own_localstack)
    assert client.get("/readyz").status_code == 200

    handle.stop()
    down = client.get("/readyz")
    assert down.status_code == 503
    checks = down.json()["checks"]
    assert down.json()["status"] == "unavailable"
    assert checks["database"]["ok"] is True
    assert checks["s3"]["ok"] is False
    assert checks["sqs"]["ok"] is False
    # Refused once the process is gone; while it is still shutting down (a loaded machine) its
    # listener may accept without answering, which the check reports as its deadline passing.
    for service in ("s3", "sqs"):
        error = checks[service]["error"]
        assert "Connect" in error or "no answer within" in error, (service, error)

    localstack.ensure_running("host")
    _create_resources(own_localstack)
    back = client.get("/readyz")
    assert back.status_code == 200, back.json()
    assert back.json()["status"] == "ok"
