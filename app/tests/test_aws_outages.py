"""Which AWS errors are an outage (worth a later retry, a 503 in a view), and which are not.

The queue's own classification runs against loopback sockets: one that refuses connections, and
an HTTP server answering as SQS's JSON protocol does. A refusal of the request itself (access
denied) must stay an error: waiting would never fix it.
"""

import json
import re
from http.server import BaseHTTPRequestHandler

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from config import aws
from config.circuit import CircuitOpen
from config.dependencies import DependencyUnavailable
from sqs_tasks.queue import QueueMissing, SQSQueue


def client_error(status: int, code: str) -> ClientError:
    response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "SendMessage")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),
        (CircuitOpen("s3", OSError("no answer")), True),
        (client_error(400, "ThrottlingException"), True),
        (client_error(503, "SlowDown"), True),
        (client_error(500, "InternalError"), True),
        (client_error(429, "TooManyRequests"), True),
        (client_error(403, "AccessDenied"), False),
        (client_error(400, "InvalidParameterValue"), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_counts_as_an_outage(error: BaseException, outage: bool) -> None:
    assert aws.is_outage(error) is outage


def answering(status: int, code: str) -> type[BaseHTTPRequestHandler]:
    """A handler that answers every SQS call with that error, as SQS's JSON protocol does."""
    return type("SQSAnswers", (SQSAnswers,), {"error": (status, code)})


class SQSAnswers(BaseHTTPRequestHandler):
    error: tuple[int, str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, code = self.error
        body = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": code}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sqs_endpoint(settings, monkeypatch):
    """Point the app's AWS clients at `url`; one attempt per call (no retry sleeps)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.AWS_MAX_ATTEMPTS = 0

    def point_at(url: str) -> SQSQueue:
        settings.AWS_ENDPOINT_URL = url
        return SQSQueue(f"{url}/000000000000/tasks")

    return point_at


def test_a_refused_connection_is_the_queue_unavailable(sqs_endpoint, closed_port):
    queue = sqs_endpoint(f"http://127.0.0.1:{closed_port}")

    with pytest.raises(DependencyUnavailable, match="sqs unavailable: EndpointConnectionError"):
        queue.receive(wait_seconds=0)


def test_throttling_is_the_queue_unavailable(sqs_endpoint, serve_http):
    queue = sqs_endpoint(f"http://127.0.0.1:{serve_http(answering(400, 'ThrottlingException'))}")

    with pytest.raises(DependencyUnavailable, match=r"sqs unavailable: .*ThrottlingException"):
        queue.send("{}")


def test_a_missing_queue_is_no_outage_but_its_own_error(sqs_endpoint, serve_http):
    """Waiting would not bring it back: a redeploy names the queue anew."""
    queue = sqs_endpoint(f"http://127.0.0.1:{serve_http(answering(400, 'QueueDoesNotExist'))}")

    with pytest.raises(QueueMissing, match=re.escape(f"the queue {queue.url} does not exist")):
        queue.receive(wait_seconds=0)


def test_a_refused_request_stays_an_error(sqs_endpoint, serve_http):
    queue = sqs_endpoint(f"http://127.0.0.1:{serve_http(answering(403, 'AccessDenied'))}")

    with pytest.raises(ClientError, match="AccessDenied") as raised:
        queue.send("{}")
    assert not isinstance(raised.value, DependencyUnavailable)
