"""A dependency that stops answering costs a few timeouts, then calls to it fail at once.

The breaker's states first, on a clock and a probe the test drives; then boto3 clients and the
upload view against real loopback sockets: one that refuses connections, and an HTTP server that
hangs (accepts, never answers) until the test lets it answer like S3.
"""

import threading
from http.server import BaseHTTPRequestHandler

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from django.core.files.uploadedfile import SimpleUploadedFile

from config import aws
from config.circuit import Breaker, CircuitOpen
from documents.models import Document

FAILURES = 3


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, probe=lambda: False) -> Breaker:
    return Breaker("s3", failures_to_open=FAILURES, open_seconds=5, probe=probe, clock=clock)


def test_failed_attempts_in_a_row_open_it_and_a_success_between_them_does_not():
    clock = Clock()
    closed, opened = breaker(clock), breaker(clock)
    for outcome in [OSError("1"), OSError("2"), None, OSError("3"), OSError("4")]:
        closed.before_attempt()
        closed.record(outcome)
    for n in range(FAILURES):
        opened.before_attempt()
        opened.record(OSError(f"timeout {n}"))

    assert not closed.is_open
    assert opened.is_open
    with pytest.raises(CircuitOpen, match=r"s3 unavailable: circuit open.*OSError: timeout 2"):
        opened.before_attempt()


def test_open_it_refuses_without_probing_until_its_period_ends_then_one_probe_decides():
    clock, probes, answering = Clock(), [], [False]

    def probe() -> bool:
        probes.append(clock.now)
        return answering[0]

    circuit = breaker(clock, probe)
    for _ in range(FAILURES):
        circuit.record(OSError("no answer"))

    clock.now += 4.9
    with pytest.raises(CircuitOpen):
        circuit.before_attempt()
    assert probes == []

    clock.now += 0.2  # the period is over: this attempt probes, in vain
    with pytest.raises(CircuitOpen):
        circuit.before_attempt()
    assert len(probes) == 1
    with pytest.raises(CircuitOpen):  # a new period started with the failed probe
        circuit.before_attempt()
    assert len(probes) == 1

    answering[0] = True
    clock.now += 5.1
    circuit.before_attempt()  # the probe is answered: the attempt goes out
    assert len(probes) == 2
    assert not circuit.is_open


def test_while_one_attempt_probes_the_others_are_refused():
    clock, probing, release = Clock(), threading.Event(), threading.Event()

    def slow_probe() -> bool:
        probing.set()
        return release.wait(10)

    circuit = breaker(clock, slow_probe)
    for _ in range(FAILURES):
        circuit.record(OSError("no answer"))
    clock.now += 6
    prober = threading.Thread(target=circuit.before_attempt)
    prober.start()
    try:
        assert probing.wait(10)
        with pytest.raises(CircuitOpen):
            circuit.before_attempt()
    finally:
        release.set()
        prober.join()
    assert not circuit.is_open


# --- real sockets ------------------------------------------------------------------------------


class S3Stub:
    """A loopback HTTP server standing in for S3: hangs (never answers) while `hanging` is set,
    else answers HeadBucket and PutObject. Counts the requests that reached it, by kind."""

    def __init__(self, serve_http) -> None:
        self.hanging = threading.Event()
        self.hanging.set()
        self.requests: list[str] = []
        self.stop = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                kind = "probe" if self.path == "/" else f"{self.command} {self.path.split('?')[0]}"
                stub.requests.append(kind)
                if stub.hanging.is_set():
                    stub.stop.wait(30)
                    return
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_PUT = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.url = f"http://127.0.0.1:{serve_http(Handler)}"

    def calls(self) -> list[str]:
        return [request for request in self.requests if request != "probe"]


@pytest.fixture
def s3_stub(serve_http, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.AWS_BREAKER_FAILURES = FAILURES
    settings.AWS_BREAKER_OPEN_SECONDS = 60  # no probe unless a test shortens it
    settings.AWS_BREAKER_PROBE_TIMEOUT = 0.3
    stub = S3Stub(serve_http)
    settings.AWS_ENDPOINT_URL = stub.url
    yield stub
    stub.stop.set()


def head_bucket() -> None:
    """One attempt (botocore's max_attempts counts the retries)."""
    aws.client("s3", read_timeout=0.3, max_attempts=0).head_bucket(Bucket="documents")


def test_a_refusing_endpoint_opens_the_breaker(settings, monkeypatch, closed_port):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"
    settings.AWS_BREAKER_FAILURES = FAILURES
    sqs = aws.client("sqs", max_attempts=0)
    queue_url = f"{settings.AWS_ENDPOINT_URL}/000000000000/tasks"

    for _ in range(FAILURES):
        with pytest.raises(EndpointConnectionError):
            sqs.get_queue_attributes(QueueUrl=queue_url)
    with pytest.raises(CircuitOpen, match=r"sqs unavailable: circuit open.*EndpointConnection"):
        sqs.get_queue_attributes(QueueUrl=queue_url)


def test_a_hanging_endpoint_costs_its_timeouts_once_then_nothing_reaches_it(s3_stub):
    for _ in range(FAILURES):
        with pytest.raises(ReadTimeoutError):
            head_bucket()
    for _ in range(5):
        with pytest.raises(CircuitOpen):
            head_bucket()

    assert s3_stub.calls() == ["HEAD /documents"] * FAILURES


def test_retries_of_a_call_are_refused_once_the_breaker_opens(s3_stub, settings):
    """botocore's retries go through the breaker too: an attempt that opens it ends the call."""
    settings.AWS_BREAKER_FAILURES = 1
    client = aws.client("s3", read_timeout=0.3, max_attempts=3)

    with pytest.raises(CircuitOpen):
        client.head_bucket(Bucket="documents")
    assert s3_stub.calls() == ["HEAD /documents"]


def test_after_its_period_a_probe_decides_and_the_first_call_after_recovery_succeeds(
    s3_stub, settings
):
    settings.AWS_BREAKER_OPEN_SECONDS = 0.2
    for _ in range(FAILURES):
        with pytest.raises(ReadTimeoutError):
            head_bucket()
    threading.Event().wait(0.3)  # the open period passes; the endpoint still hangs

    with pytest.raises(CircuitOpen):
        head_bucket()  # its probe went unanswered: refused, the call itself never sent
    assert (s3_stub.requests.count("probe"), len(s3_stub.calls())) == (1, FAILURES)

    s3_stub.hanging.clear()  # the dependency is back
    threading.Event().wait(0.3)
    head_bucket()
    assert s3_stub.requests[-2:] == ["probe", "HEAD /documents"]


@pytest.mark.django_db
def test_uploads_get_a_503_with_retry_after_at_once_while_s3_is_open(logged_in, s3_stub, settings):
    settings.AWS_READ_TIMEOUT = 0.3
    settings.AWS_MAX_ATTEMPTS = 0
    settings.AWS_BREAKER_FAILURES = 1
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "config.storage.DocumentStorage",
            "OPTIONS": {"bucket_name": "documents", "endpoint_url": s3_stub.url},
        },
    }

    def upload():
        file = SimpleUploadedFile("notes.txt", b"hello\n", content_type="text/plain")
        return logged_in.post("/api/documents/", {"file": file})

    timed_out = upload()
    refused = [upload() for _ in range(3)]

    assert timed_out.status_code == 503
    for response in refused:
        assert response.status_code == 503
        assert response["Retry-After"] == str(settings.DEPENDENCY_RETRY_AFTER)
        assert response.json()["dependency"] == "s3"
    [put] = s3_stub.calls()  # the first upload's; none of the others reached S3
    assert put.startswith("PUT /documents/")
    assert Document.objects.count() == 0
    assert logged_in.get("/healthz").status_code == 200
