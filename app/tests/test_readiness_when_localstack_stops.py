"""/readyz against a LocalStack that really stops and comes back.

A LocalStack of its own, on a spare port, so the shared instance the other tests deploy into is
never interrupted. The free LocalStack keeps no state across restarts, so after the restart the
test recreates the bucket and queue, as a redeploy would; the app process is never reconfigured.
"""

import pytest
from hangar.localstack import commands as localstack

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NAME = "hangar-readiness"  # the bucket's and the queue's


def test_readyz_names_s3_and_sqs_while_localstack_is_stopped_and_recovers(
    own_localstack, create_bucket_and_queue, settings, admin_client
):
    client = admin_client  # staff: /readyz shows them the error of each check
    handle = localstack.ensure_running("host")
    assert handle.started_by_us
    # Which dependency is named is the point here, not the deadline (tests/unit covers it): on a
    # loaded machine the database check's new connection once took longer than the default 2 s,
    # and under `make test`'s load one of this test's /readyz calls answered 503 after 6.5 s.
    settings.READINESS_TIMEOUT = 15.0
    settings.AWS_ENDPOINT_URL = own_localstack
    settings.DOCUMENTS_BUCKET = NAME
    settings.TASKS_QUEUE_URL = create_bucket_and_queue(own_localstack, NAME)
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
    create_bucket_and_queue(own_localstack, NAME)
    back = client.get("/readyz")
    assert back.status_code == 200, back.json()
    assert back.json()["status"] == "ok"
