import threading
import time

import pytest

from health import checks

ALB_HOST = "10.0.1.23"  # what an ALB health check sends: the task's private IP


def test_healthz_answers_a_bare_private_ip_host(client):
    response = client.get("/healthz", HTTP_HOST=ALB_HOST)

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Cache-Control"] == "no-store"


def test_healthz_answers_head(client):
    assert client.head("/healthz", HTTP_HOST=ALB_HOST).status_code == 200


@pytest.mark.django_db
def test_same_host_is_refused_on_every_other_route(client):
    assert client.get("/documents/", HTTP_HOST=ALB_HOST).status_code == 400
    assert client.get("/readyz", HTTP_HOST=ALB_HOST).status_code == 400
    # Only GET/HEAD are liveness probes; anything else goes through host validation.
    assert client.post("/healthz", HTTP_HOST=ALB_HOST).status_code == 400


def test_healthz_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz", HTTP_HOST=ALB_HOST).status_code == 200
    redirected = client.get("/readyz")
    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/readyz"


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ok_with_database_up_and_aws_not_configured(admin_client):
    response = admin_client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["s3"] == {
        "ok": True,
        "detail": "not configured",
        "duration_ms": body["checks"]["s3"]["duration_ms"],
    }
    assert body["checks"]["sqs"]["detail"] == "not configured"


@pytest.fixture
def unreachable_aws(settings, monkeypatch, closed_port):
    """S3 and SQS configured at a local port nothing listens on; the queue URL holds an account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    endpoint = f"http://127.0.0.1:{closed_port}"
    settings.AWS_ENDPOINT_URL = endpoint
    settings.DOCUMENTS_BUCKET = "documents-bucket-name"
    settings.TASKS_QUEUE_URL = f"{endpoint}/123456789012/tasks"
    # Which dependency is named is the point, not the deadline (the tests below cover it): under
    # `make test`'s load this request once answered after 3.8 s, past the default deadline (3 s).
    settings.READINESS_TIMEOUT = 15


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("unreachable_aws")
def test_readyz_tells_staff_what_failed(admin_client):
    response = admin_client.get("/readyz")

    # A check past the deadline would read "no answer within …": naming the connection
    # error proves the clients gave up on their own, without a wall-clock assertion that
    # a loaded CI machine can break.
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    for name in ("s3", "sqs"):
        assert body["checks"][name]["ok"] is False
        assert "EndpointConnectionError" in body["checks"][name]["error"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("unreachable_aws")
@pytest.mark.parametrize("visitor", ["anonymous", "member"])
def test_readyz_tells_anyone_else_only_which_dependency_is_down(client, member, visitor):
    if visitor == "member":
        client.force_login(member)

    response = client.get("/readyz")

    # What the deploy's smoke test and the load balancer need: the status and which one is down.
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": {"ok": True}, "s3": {"ok": False}, "sqs": {"ok": False}},
    }
    for secret in ("documents-bucket-name", "123456789012", "EndpointConnectionError", "127.0.0.1"):
        assert secret not in response.content.decode()


def test_a_check_that_hangs_is_reported_without_waiting_for_it(settings):
    settings.READINESS_TIMEOUT = 0.1
    released = threading.Event()

    def hangs() -> checks.CheckResult:
        released.wait(timeout=30)
        return {"ok": True}

    started = time.monotonic()
    try:
        results = checks.run_checks({"slow": hangs, "fast": lambda: {"ok": True}})
        waited = time.monotonic() - started
    finally:
        released.set()

    # The check hangs for 30 s; anything well under that proves run_checks stopped waiting.
    assert waited < 10
    assert results["slow"] == {"ok": False, "error": "no answer within 1.1 s"}
    assert results["fast"]["ok"] is True


def test_a_failing_check_reports_the_exception():
    def broken() -> checks.CheckResult:
        raise RuntimeError("disk on fire")

    result = checks.run_checks({"broken": broken})["broken"]

    assert result["ok"] is False
    assert result["error"] == "RuntimeError: disk on fire"
