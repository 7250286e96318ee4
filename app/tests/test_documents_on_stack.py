"""The documents workload against the local stage deployed into a real LocalStack (no mocks).

The app is configured the way `make dev` configures it: config/settings.py reads the env file that
`deploy-local` wrote from the stack's outputs, so these tests fail when that hand-off breaks.
"""

import hashlib
import json
import runpy
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished

from documents.models import Document

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SETTINGS_FILE = Path(__file__).resolve().parents[1] / "config" / "settings.py"
# The settings that carry AWS configuration; the rest (database, static files) stay the test's.
AWS_SETTINGS = (
    "STORAGES",
    "TASKS",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "DOCUMENTS_BUCKET",
    "TASKS_QUEUE_URL",
    "TASKS_DLQ_URL",
)
TIMEOUTS = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2})


@pytest.fixture
def app_on_stack(deployed_stack, settings, client, django_user_model):
    """Django configured by its own settings module from the env file deploy-local wrote
    (HANGAR_ENV_FILE: deployed_stack's copy of it, as this session's deploy wrote it), and the
    test client logged in, as uploads need outside `make dev`."""
    client.force_login(django_user_model.objects.create_user("uploader"))
    evaluated = runpy.run_path(str(SETTINGS_FILE))
    for name in AWS_SETTINGS:
        setattr(settings, name, evaluated[name])
    settings.STORAGES = {
        **evaluated["STORAGES"],
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return deployed_stack


def aws(service: str, stack: dict[str, str]):
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=stack["AWS_ENDPOINT_URL"],
        region_name=stack["AWS_REGION"],
        config=TIMEOUTS,
    )


def upload(client, name: str, content: bytes, content_type: str) -> Document:
    file = SimpleUploadedFile(name, content, content_type=content_type)
    response = client.post("/api/documents/", {"file": file})
    assert response.status_code == 201, response.content
    return Document.objects.get(pk=response.json()["id"])


def test_the_app_reads_the_resources_the_stack_created(app_on_stack, settings):
    stack = app_on_stack
    assert stack["DOCUMENTS_BUCKET"] == settings.DOCUMENTS_BUCKET
    assert settings.STORAGES["default"]["OPTIONS"]["bucket_name"] == stack["DOCUMENTS_BUCKET"]
    assert settings.TASKS["default"]["BACKEND"] == "sqs_tasks.backend.SQSBackend"
    assert settings.TASKS["default"]["OPTIONS"]["QUEUE_URL"] == stack["TASKS_QUEUE_URL"]
    # The names are the stack's, not copies: the bucket and queue answer in LocalStack.
    aws("s3", stack).head_bucket(Bucket=stack["DOCUMENTS_BUCKET"])
    aws("sqs", stack).get_queue_attributes(QueueUrl=stack["TASKS_QUEUE_URL"])


def test_an_upload_lands_in_the_stacks_bucket_with_its_key_and_metadata(app_on_stack, client):
    content = b"quarterly numbers\n"
    document = upload(client, "report 2026.txt", content, "text/plain")

    assert document.storage_key.startswith(f"documents/{document.id}/")
    head = aws("s3", app_on_stack).head_object(
        Bucket=app_on_stack["DOCUMENTS_BUCKET"], Key=document.storage_key
    )
    assert head["ContentLength"] == len(content)
    assert head["ContentType"] == "text/plain"


def test_the_job_travels_through_sqs_and_the_worker_marks_the_document_processed(
    app_on_stack, client
):
    content = b"%PDF-1.7\n" + b"x" * 2048 + b"\n%%EOF\n"
    document = upload(client, "scan.pdf", content, "application/pdf")
    assert document.status == Document.Status.PENDING

    # Other tests' messages may be ahead of ours in the shared queue: poll until ours is handled.
    deadline = time.monotonic() + 60
    while document.status == Document.Status.PENDING and time.monotonic() < deadline:
        call_command("worker", "--wait", "2", "--once")
        document.refresh_from_db()

    assert document.status == Document.Status.PROCESSED, document.error
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.size == len(content)
    assert document.detected_content_type == "application/pdf"
    detail = client.get(f"/api/documents/{document.id}/").json()
    assert detail["status"] == "processed"


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue_intact(app_on_stack, client):
    sqs, s3 = aws("sqs", app_on_stack), aws("s3", app_on_stack)
    queue_url, dlq_url = app_on_stack["TASKS_QUEUE_URL"], app_on_stack["TASKS_DLQ_URL"]
    max_receives = int(
        json.loads(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
                "Attributes"
            ]["RedrivePolicy"]
        )["maxReceiveCount"]
    )
    document = upload(client, "vanishing.txt", b"here, then gone\n", "text/plain")
    # The object disappears before the worker gets to it: every attempt fails.
    s3.delete_object(Bucket=app_on_stack["DOCUMENTS_BUCKET"], Key=document.storage_key)

    failed_attempts = []

    def record_failure(sender, task_result, **kwargs):
        if task_result.status == TaskResultStatus.FAILED and task_result.args == [str(document.id)]:
            failed_attempts.append(task_result.errors[-1].exception_class_path)

    # A failed attempt leaves the message for SQS to redeliver after the visibility timeout; the
    # receive after the last allowed one moves it to the dead-letter queue instead.
    dead: list[dict] = []
    deadline = time.monotonic() + 120
    task_finished.connect(record_failure)
    try:
        while not dead and time.monotonic() < deadline:
            call_command("worker", "--wait", "2", "--once")
            received = sqs.receive_message(
                QueueUrl=dlq_url, WaitTimeSeconds=1, MaxNumberOfMessages=10
            ).get("Messages", [])
            dead = [m for m in received if json.loads(m["Body"])["args"] == [str(document.id)]]
    finally:
        task_finished.disconnect(record_failure)
    assert dead, f"the failing message did not reach the DLQ within 120 s ({max_receives=})"

    assert json.loads(dead[0]["Body"])["task"] == "documents.tasks.process_document"
    assert failed_attempts == ["builtins.FileNotFoundError"] * max_receives, (
        f"this session's worker made {len(failed_attempts)} of the {max_receives} attempts: "
        "another consumer of the stage's queue (a dev worker, e.g. the dev container's) took the "
        "others; stop it while the integration tests run"
    )
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "FileNotFoundError" in document.error
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=dead[0]["ReceiptHandle"])
