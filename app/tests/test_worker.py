"""The SQS backend and worker, driven through an in-memory queue (the real SQS path runs in the
integration tests against LocalStack)."""

import itertools
import json
import os
import signal
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.tasks import default_task_backend, task

from config.dependencies import DependencyUnavailable
from documents.models import Document
from sqs_tasks.messages import InvalidMessage, TaskMessage
from sqs_tasks.queue import Message, QueueMissing
from sqs_tasks.worker import MAX_VISIBILITY_SECONDS, Backoff, Worker, resolve_task, retry_delay

# The worker opens and closes database connections around every task, as a request does.
pytestmark = pytest.mark.django_db

CALLS: list[object] = []


@task
def record(value):
    CALLS.append(value)


@task
def take_a_second(value):
    time.sleep(1)
    CALLS.append(value)


@task
def explode():
    raise RuntimeError("boom")


@task(takes_context=True)
def record_attempt(context, value):
    CALLS.append((context.attempt, value))


@task
def send_sigterm_to_self(value):
    CALLS.append(value)
    os.kill(os.getpid(), signal.SIGTERM)


def plain_function():
    CALLS.append("must never run")


class FakeQueue:
    """Records what the backend and worker do to the queue."""

    def __init__(self, *bodies: str, receive_count: int = 1, visibility_timeout=30) -> None:
        ids = itertools.count(1)
        self.waiting = [
            Message(id=f"m{n}", body=body, receipt_handle=f"r{n}", receive_count=receive_count)
            for n, body in zip(ids, bodies, strict=False)
        ]
        self.sent: list[str] = []
        self.deleted: list[str] = []
        self.visibility_changes: list[tuple[str, int]] = []
        self.visibility_timeout = visibility_timeout

    def send(self, body: str) -> str:
        self.sent.append(body)
        self.waiting.append(
            Message(id=f"s{len(self.sent)}", body=body, receipt_handle="h", receive_count=1)
        )
        return f"s{len(self.sent)}"

    def receive(self, *, wait_seconds: int) -> list[Message]:
        return [self.waiting.pop(0)] if self.waiting else []

    def delete(self, message: Message) -> None:
        self.deleted.append(message.id)

    def change_visibility(self, message: Message, seconds: int) -> None:
        self.visibility_changes.append((message.id, seconds))


def body(task_path: str, *args, **kwargs) -> str:
    return TaskMessage(
        id="t1", task_path=task_path, args=list(args), kwargs=kwargs, enqueued_at="now"
    ).to_json()


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


@pytest.fixture
def sqs_backend(settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "sqs_tasks.backend.SQSBackend",
            "OPTIONS": {"QUEUE_URL": "https://sqs.invalid/000000000000/tasks"},
        }
    }
    default_task_backend.queue = FakeQueue()
    return default_task_backend


def test_enqueue_sends_the_task_as_json(sqs_backend):
    result = record.enqueue("x", flag=True)

    [sent] = sqs_backend.queue.sent
    message = json.loads(sent)
    assert message == {
        "version": 1,
        "id": result.id,
        "task": f"{record.func.__module__}.record",
        "args": ["x"],
        "kwargs": {"flag": True},
        "enqueued_at": result.enqueued_at.isoformat(),
    }
    assert result.status == "READY"


def test_enqueue_refuses_arguments_json_cannot_carry(sqs_backend):
    with pytest.raises(TypeError):
        record.enqueue(object())
    assert sqs_backend.queue.sent == []


def test_backend_without_queue_url_fails_the_system_check(settings):
    settings.TASKS = {"default": {"BACKEND": "sqs_tasks.backend.SQSBackend"}}

    [error] = default_task_backend.check()

    assert error.id == "sqs_tasks.E001"
    assert "TASKS_QUEUE_URL" in error.hint


def test_message_round_trip():
    message = TaskMessage(id="1", task_path="a.b", args=[1], kwargs={"k": "v"}, enqueued_at="t")

    assert TaskMessage.from_json(message.to_json()) == message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "body is not JSON"),
        ("[1]", "not a JSON object"),
        ('{"version": 2}', "unsupported message version 2"),
        (
            '{"version": 1, "id": "1", "task": "a", "args": {}, "kwargs": {}, "enqueued_at": "t"}',
            "field 'args' is missing or not a list",
        ),
    ],
)
def test_undecodable_messages_are_rejected(raw, reason):
    with pytest.raises(InvalidMessage, match=reason):
        TaskMessage.from_json(raw)


def test_only_task_objects_resolve():
    assert resolve_task(f"{__name__}.record") is record
    with pytest.raises(InvalidMessage, match="is not a task"):
        resolve_task(f"{__name__}.plain_function")
    with pytest.raises(InvalidMessage, match="no task at"):
        resolve_task("nowhere.to_be_found")


def test_success_runs_the_task_and_deletes_the_message():
    queue = FakeQueue(body(f"{__name__}.record", "hello"))

    handled = Worker(queue, backend_alias="default").run(wait_seconds=0, once=True)

    assert handled == 1
    assert CALLS == ["hello"]
    assert queue.deleted == ["m1"]


def test_task_with_context_gets_it():
    queue = FakeQueue(body(f"{__name__}.record_attempt", "v"))

    Worker(queue, backend_alias="default").run(wait_seconds=0, once=True)

    assert CALLS == [(1, "v")]


def test_failure_leaves_the_message_for_redelivery(caplog):
    queue = FakeQueue(body(f"{__name__}.explode"))

    Worker(queue, backend_alias="default").run(wait_seconds=0, once=True)

    assert queue.deleted == []
    assert queue.visibility_changes == []
    assert "RuntimeError: boom" in caplog.text


def test_failure_with_backoff_shortens_the_retry():
    queue = FakeQueue(body(f"{__name__}.explode"), receive_count=3)

    Worker(queue, backend_alias="default", retry_backoff_seconds=5).run(wait_seconds=0, once=True)

    assert queue.deleted == []
    assert queue.visibility_changes == [("m1", 20)]


def test_a_task_longer_than_the_visibility_timeout_keeps_its_message_hidden():
    queue = FakeQueue(body(f"{__name__}.take_a_second", "slow"), visibility_timeout=0.3)

    assert Worker(queue, backend_alias="default").handle(queue.waiting.pop()) is True

    # Renewed (every 0.1 s) for the full timeout while the task ran, and no more once it was done.
    assert CALLS == ["slow"]
    assert len(queue.visibility_changes) >= 3
    assert set(queue.visibility_changes) == {("m1", 0.3)}
    renewals = len(queue.visibility_changes)
    time.sleep(0.5)
    assert len(queue.visibility_changes) == renewals
    assert queue.deleted == ["m1"]


class RefusesRenewal(FakeQueue):
    def change_visibility(self, message: Message, seconds: int) -> None:
        raise RuntimeError("receipt handle expired")


def test_a_failed_renewal_is_logged_and_the_task_still_completes(caplog):
    queue = RefusesRenewal(body(f"{__name__}.take_a_second", "slow"), visibility_timeout=0.3)

    assert Worker(queue, backend_alias="default").handle(queue.waiting.pop()) is True

    assert "cannot keep message m1 hidden; another worker may receive it" in caplog.text
    assert caplog.text.count("cannot keep message") == 1
    assert queue.deleted == ["m1"]


def test_retry_delay_doubles_and_is_capped():
    assert [retry_delay(5, count) for count in (1, 2, 3)] == [5, 10, 20]
    assert retry_delay(5, 100) == MAX_VISIBILITY_SECONDS


@pytest.mark.parametrize("raw", ["{broken", body(f"{__name__}.plain_function")])
def test_unrunnable_message_is_logged_and_left_for_the_dead_letter_queue(raw, caplog):
    queue = FakeQueue(raw)

    Worker(queue, backend_alias="default").run(wait_seconds=0, once=True)

    assert queue.deleted == []
    assert CALLS == []
    assert "message m1 is not a runnable task" in caplog.text
    assert "leaving it for the dead-letter queue" in caplog.text


def test_max_messages_stops_the_loop():
    queue = FakeQueue(*(body(f"{__name__}.record", n) for n in range(3)))

    handled = Worker(queue, backend_alias="default").run(wait_seconds=0, max_messages=2)

    assert handled == 2
    assert CALLS == [0, 1]
    assert len(queue.waiting) == 1


def test_request_stop_finishes_the_current_message_then_returns():
    queue = FakeQueue(*(body(f"{__name__}.record", n) for n in range(3)))
    worker = Worker(queue, backend_alias="default")
    worker.request_stop()

    assert worker.run(wait_seconds=0) == 0
    assert len(queue.waiting) == 3


@pytest.mark.django_db(transaction=True)
def test_uploaded_document_is_processed_by_the_worker(logged_in, sqs_backend):
    upload = SimpleUploadedFile("notes.txt", b"queued words\n", content_type="text/plain")
    document_id = logged_in.post("/api/documents/", {"file": upload}).json()["id"]
    assert Document.objects.get(pk=document_id).status == "pending"

    call_command("worker", "--once", "--wait=0")

    document = Document.objects.get(pk=document_id)
    assert document.status == "processed"
    assert document.detected_content_type == "text/plain"
    assert sqs_backend.queue.deleted == ["s1"]


@pytest.mark.django_db(transaction=True)
def test_failed_processing_marks_the_document_and_keeps_the_message(sqs_backend):
    document = Document.objects.create(
        original_name="gone.txt", content_type="text/plain", storage_key="documents/x/gone", size=1
    )
    from documents.tasks import process_document

    process_document.enqueue(str(document.id))
    call_command("worker", "--once", "--wait=0")

    document.refresh_from_db()
    assert document.status == "failed"
    assert "FileNotFoundError" in document.error
    assert sqs_backend.queue.deleted == []


def test_sigterm_stops_the_command_after_the_current_message(sqs_backend, capsys):
    record_message = body(f"{__name__}.send_sigterm_to_self", "first")
    sqs_backend.queue.waiting = FakeQueue(
        record_message, body(f"{__name__}.record", "second")
    ).waiting

    call_command("worker", "--wait=0")

    assert CALLS == ["first"]
    assert sqs_backend.queue.deleted == ["m1"]
    assert [message.id for message in sqs_backend.queue.waiting] == ["m2"]
    assert "SIGTERM received: stopping after the current message." in capsys.readouterr().err
    # The command restored the previous handler on the way out.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


class SignalledWhilePolling(FakeQueue):
    """A long poll that receives SIGTERM a moment in, then would block for its full wait."""

    def receive(self, *, wait_seconds: int) -> list[Message]:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
        time.sleep(wait_seconds)
        self.poll_completed = True
        return super().receive(wait_seconds=wait_seconds)


def test_sigterm_during_a_long_poll_stops_the_command_at_once(sqs_backend, capsys):
    sqs_backend.queue = SignalledWhilePolling(body(f"{__name__}.record", "never received"))

    call_command("worker", "--wait=20")

    # The 20 s poll was cut short, and the message it would have returned is still queued.
    assert not hasattr(sqs_backend.queue, "poll_completed")
    assert CALLS == []
    assert [message.id for message in sqs_backend.queue.waiting] == ["m1"]
    assert "worker stopped while waiting for messages" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


class SignalledWhilePollingThroughBotocore(SignalledWhilePolling):
    """As botocore does: an Exception raised while it waits for the response is caught, and the
    request is retried."""

    def receive(self, *, wait_seconds: int) -> list[Message]:
        for _attempt in range(3):
            try:
                return super().receive(wait_seconds=wait_seconds)
            except Exception:  # noqa: S112 - the library behaviour this test reproduces
                continue
        return []


def test_sigterm_during_a_long_poll_is_not_swallowed_by_the_aws_client(sqs_backend, capsys):
    sqs_backend.queue = SignalledWhilePollingThroughBotocore(
        body(f"{__name__}.record", "never received")
    )

    call_command("worker", "--wait=2")

    assert not hasattr(sqs_backend.queue, "poll_completed"), "the stop was retried away"
    assert "worker stopped while waiting for messages" in capsys.readouterr().out


def test_worker_refuses_a_backend_that_is_not_sqs():
    with pytest.raises(CommandError, match="not SQSBackend: the worker only reads SQS"):
        call_command("worker", "--once")


# --- the queue unavailable ----------------------------------------------------------------------
# tests/integration/test_worker_survives_localstack_restart.py stops a real LocalStack under it.
QUICK = Backoff(first=0.001, longest=0.004)


def outage() -> DependencyUnavailable:
    return DependencyUnavailable("sqs", ConnectionRefusedError("connection refused"))


class UnavailableAtFirst(FakeQueue):
    """Unavailable for the first `failures` receives (and `delete_failures` deletes)."""

    def __init__(self, *bodies: str, failures: int, delete_failures: int = 0) -> None:
        super().__init__(*bodies)
        self.failures = failures
        self.delete_failures = delete_failures
        self.receives = 0

    def receive(self, *, wait_seconds: int) -> list[Message]:
        self.receives += 1
        if self.receives <= self.failures:
            raise outage()
        return super().receive(wait_seconds=wait_seconds)

    def delete(self, message: Message) -> None:
        if self.delete_failures:
            self.delete_failures -= 1
            self.waiting.append(message)  # SQS hands it out again after its visibility timeout
            raise outage()
        super().delete(message)


def test_an_unavailable_queue_is_retried_and_logged_once_when_down_and_once_when_back(caplog):
    queue = UnavailableAtFirst(body(f"{__name__}.record", "after the outage"), failures=5)

    handled = Worker(queue, backend_alias="default", backoff=QUICK).run(
        wait_seconds=0, max_messages=1
    )

    assert (handled, CALLS, queue.deleted) == (1, ["after the outage"], ["m1"])
    assert queue.receives == 6
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [r.getMessage() for r in warnings] == [
        "sqs unavailable: ConnectionRefusedError: connection refused; retrying with backoff "
        "(at most 0.004 s apart) until it answers"
    ]
    assert "sqs answers again after" in caplog.text
    assert "(5 retries)" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_delete_lost_to_an_outage_leaves_the_message_for_redelivery(caplog):
    queue = UnavailableAtFirst(body(f"{__name__}.record", "twice"), failures=0, delete_failures=1)

    Worker(queue, backend_alias="default", backoff=QUICK).run(wait_seconds=0, max_messages=1)

    # Delivered again, as SQS would: the task runs again (tasks are idempotent), then is deleted.
    assert CALLS == ["twice", "twice"]
    assert queue.deleted == ["m1"]


class AlwaysUnavailable(FakeQueue):
    def receive(self, *, wait_seconds: int) -> list[Message]:
        raise outage()


def test_a_stop_ends_the_wait_between_retries():
    worker = Worker(AlwaysUnavailable(), backend_alias="default", backoff=Backoff(60, 60))
    runner = threading.Thread(target=worker.run, kwargs={"wait_seconds": 0})
    runner.start()
    deadline = time.monotonic() + 10
    while worker.outage is None and time.monotonic() < deadline:
        time.sleep(0.01)

    worker.request_stop()
    runner.join(10)

    assert worker.outage is not None, "the worker never met the outage"
    assert not runner.is_alive(), "the stop waited for the 30-60 s backoff"


class Missing(FakeQueue):
    def receive(self, *, wait_seconds: int) -> list[Message]:
        raise QueueMissing("the queue https://sqs.invalid/000000000000/tasks does not exist")


def test_a_missing_queue_ends_the_command_with_what_to_do(sqs_backend):
    """No outage to wait out: the worker exits (1), for compose to restart it once deployed."""
    sqs_backend.queue = Missing()

    with pytest.raises(CommandError) as error:
        call_command("worker", "--wait=0")

    assert str(error.value) == (
        "the queue https://sqs.invalid/000000000000/tasks does not exist: deploy the stage that "
        "holds it (`make deploy-local`; `make dev` restarts the worker with it) or fix "
        "TASKS_QUEUE_URL"
    )


def test_backoff_doubles_up_to_its_bound_with_jitter_below_each_step():
    backoff = Backoff(first=1, longest=8)
    ceilings = [1, 2, 4, 8, 8, 8]
    for retry, ceiling in enumerate(ceilings, start=1):
        delays = [backoff.delay(retry) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), (retry, delays)
        assert len(set(delays)) > 1
