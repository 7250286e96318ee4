"""The worker under a LocalStack that stops and comes back: it survives, says so once, recovers
by itself and processes the next job.

What `make down` or a recreated LocalStack container did to the dev worker: connections refused
mid-poll. A LocalStack of the test's own (host mode, a spare port); the worker is the real loop
over the real SQS queue, in a thread of the test process so it shares the test database.

A LocalStack that comes back holds no queue until the stage is deployed again, and a worker that
polled in that window would find none and exit, for compose to restart it with the redeployed
queue (app/tests/test_worker.py). So the test ends the worker's waits between retries itself
(its Backoff, passed in): it holds them while LocalStack restarts and the queue is recreated.
"""

import threading
import time
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.tasks import task_backends
from hangar.localstack import commands as localstack

from documents.models import Document
from sqs_tasks.worker import Backoff, Worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NAME = "hangar-worker-outage"  # the bucket's and the queue's
# Generous: a loaded machine starts LocalStack and runs the worker's first poll slowly.
DEADLINE = 180.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {DEADLINE:.0f} s waiting for {what}"
        time.sleep(0.2)


def upload(client, name: str) -> str:
    file = SimpleUploadedFile(name, b"words for the worker\n", content_type="text/plain")
    response = client.post("/api/documents/", {"file": file})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def processed(document_id: str) -> bool:
    return Document.objects.get(pk=document_id).status == Document.Status.PROCESSED


class HeldBackoff(Backoff):
    """Short waits between retries, each of which lasts until the test releases them."""

    waiting: threading.Event
    released: threading.Event

    def __init__(self) -> None:
        super().__init__(first=0.2, longest=0.5)
        object.__setattr__(self, "waiting", threading.Event())
        object.__setattr__(self, "released", threading.Event())

    def delay(self, retry: int) -> float:
        self.waiting.set()
        self.released.wait(DEADLINE)
        return super().delay(retry)


def test_the_worker_survives_localstack_stopping_and_processes_the_next_job(
    own_localstack, create_bucket_and_queue, settings, client, django_user_model, caplog
):
    assert localstack.ensure_running("host").started_by_us
    settings.AWS_ENDPOINT_URL = own_localstack
    settings.DOCUMENTS_BUCKET = NAME
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "config.storage.DocumentStorage",
            "OPTIONS": {"bucket_name": NAME, "endpoint_url": own_localstack},
        },
    }
    queue_url = create_bucket_and_queue(own_localstack, NAME)
    settings.TASKS = {
        "default": {"BACKEND": "sqs_tasks.backend.SQSBackend", "OPTIONS": {"QUEUE_URL": queue_url}}
    }
    client.force_login(django_user_model.objects.create_user("uploader"))
    backoff = HeldBackoff()
    worker = Worker(task_backends["default"].queue, backend_alias="default", backoff=backoff)
    running = threading.Thread(target=worker.run, kwargs={"wait_seconds": 1}, daemon=True)
    running.start()
    try:
        before = upload(client, "before.txt")
        wait_until(lambda: processed(before), "the first document processed")

        localstack.stop()
        wait_until(
            lambda: backoff.waiting.is_set() or not running.is_alive(),
            "the worker to meet the stopped LocalStack",
        )
        assert running.is_alive(), "the worker died with LocalStack"

        localstack.ensure_running("host")
        create_bucket_and_queue(own_localstack, NAME)  # what `make deploy-local` does
        backoff.released.set()
        wait_until(lambda: worker.outage is None, "the worker to find the queue again")
        after = upload(client, "after.txt")
        wait_until(lambda: processed(after), "the next document processed")
        assert running.is_alive()
    finally:
        worker.request_stop()
        backoff.released.set()
        running.join(60)

    outage_lines = [r for r in caplog.records if "retrying with backoff" in r.getMessage()]
    assert len(outage_lines) == 1, [r.getMessage() for r in outage_lines]
    assert outage_lines[0].getMessage().startswith("sqs unavailable: ")
    assert "sqs answers again after" in caplog.text
    assert "Traceback" not in caplog.text
