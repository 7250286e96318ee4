"""The queue operations the backend and the worker need, over an SQS queue URL.

The backend and worker only see the Queue protocol, so their logic is testable with an
in-memory queue, while the SQS implementation stays a thin pass-through.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from botocore.exceptions import ClientError

from config import aws

# SQS's maximum long-poll wait; the polling client's read timeout must outlast it.
MAX_WAIT_SECONDS = 20
# A queue that does not exist, in SQS's query and JSON protocols.
MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


@dataclass(frozen=True)
class Message:
    id: str
    body: str
    receipt_handle: str
    receive_count: int


class Queue(Protocol):
    def send(self, body: str) -> str: ...

    def receive(self, *, wait_seconds: int) -> list[Message]: ...

    def delete(self, message: Message) -> None: ...

    def change_visibility(self, message: Message, seconds: int) -> None: ...

    @property
    def visibility_timeout(self) -> int: ...


class QueueMissing(Exception):
    """The queue does not exist: a stale TASKS_QUEUE_URL, or a LocalStack that lost its stack
    (a redeploy names the queue anew). Waiting would not bring it back; a restart with the
    deployed stage's configuration does."""


@contextmanager
def _unavailable(url: str) -> Iterator[None]:
    """SQS unreachable, timed out, throttling or its breaker open: DependencyUnavailable, which
    the worker waits out (and a view answers with 503); the queue missing: QueueMissing."""
    try:
        with aws.outage_as_unavailable("sqs"):
            yield
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_QUEUE_CODES:
            raise QueueMissing(f"the queue {url} does not exist") from error
        raise


class SQSQueue:
    """Every operation raises DependencyUnavailable when SQS cannot serve it now."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"SQSQueue({self.url!r})"

    @cached_property
    def _client(self) -> Any:
        return aws.client("sqs")

    @cached_property
    def _polling_client(self) -> Any:
        return aws.client("sqs", read_timeout=MAX_WAIT_SECONDS + 10)

    def send(self, body: str) -> str:
        with _unavailable(self.url):
            response = self._client.send_message(QueueUrl=self.url, MessageBody=body)
        return str(response["MessageId"])

    def receive(self, *, wait_seconds: int) -> list[Message]:
        # One message at a time: a batch would keep the rest invisible, and unavailable to
        # other workers, while this one works through the first.
        with _unavailable(self.url):
            response = self._polling_client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        return [
            Message(
                id=raw["MessageId"],
                body=raw["Body"],
                receipt_handle=raw["ReceiptHandle"],
                receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for raw in response.get("Messages", [])
        ]

    def delete(self, message: Message) -> None:
        with _unavailable(self.url):
            self._client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt_handle)

    def change_visibility(self, message: Message, seconds: int) -> None:
        """Hide the message from every receiver for `seconds` from now."""
        with _unavailable(self.url):
            self._client.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=seconds
            )

    @cached_property
    def visibility_timeout(self) -> int:
        """How long the queue hides a message it hands out (the stack sets it per stage)."""
        with _unavailable(self.url):
            attributes = self._client.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["VisibilityTimeout"]
            )["Attributes"]
        return int(attributes["VisibilityTimeout"])
