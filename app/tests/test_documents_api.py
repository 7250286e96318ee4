import json
import uuid

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.tasks import default_task_backend

from documents.models import Document

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("logged_in")]

API = "/api/documents/"


def upload(name="notes.txt", content=b"hello world\n", content_type="text/plain"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(path: str = "") -> list[str]:
    directories, files = default_storage.listdir(path)
    found = [f"{path}{name}" for name in files]
    for directory in directories:
        found += stored_files(f"{path}{directory}/")
    return found


def assert_nothing_written():
    assert Document.objects.count() == 0
    assert stored_files() == []
    assert default_task_backend.results == []


def test_upload_stores_file_and_row_then_queues_processing_after_commit(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(API, {"file": upload()})
        # Not queued before the transaction commits: a worker must find the row.
        assert default_task_backend.results == []

    assert response.status_code == 201
    body = response.json()
    document = Document.objects.get()
    assert body["id"] == str(document.id)
    assert response["Location"] == f"/api/documents/{document.id}/"
    assert body["status"] == "pending"
    assert document.storage_key == f"documents/{document.id}/notes.txt"
    assert document.original_name == "notes.txt"
    assert document.content_type == "text/plain"
    assert document.size == 12
    with default_storage.open(document.storage_key) as stored:
        assert stored.read() == b"hello world\n"

    for callback in callbacks:
        callback()
    [queued] = default_task_backend.results
    assert queued.task.module_path == "documents.tasks.process_document"
    assert queued.args == [str(document.id)]


def test_storage_key_keeps_only_a_safe_file_name(client):
    response = client.post(API, {"file": upload(name="../../etc/my passwd.txt")})

    document = Document.objects.get(pk=response.json()["id"])
    assert document.storage_key == f"documents/{document.id}/my_passwd.txt"


def test_list_and_detail(client):
    first = client.post(API, {"file": upload(name="a.txt")}).json()
    second = client.post(API, {"file": upload(name="b.txt")}).json()

    listed = client.get(API).json()["documents"]
    assert {item["id"] for item in listed} == {first["id"], second["id"]}

    detail = client.get(f"{API}{first['id']}/")
    assert detail.status_code == 200
    assert detail.json()["original_name"] == "a.txt"


def test_unknown_document_is_a_json_404(client):
    missing = uuid.uuid4()
    response = client.get(f"{API}{missing}/")

    assert response.status_code == 404
    assert response.json() == {"error": f"No document with id {missing}."}


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/nothing-here/")

    assert response.status_code == 404
    assert "error" in response.json()


def test_file_over_the_limit_is_413(client, settings):
    settings.UPLOAD_MAX_BYTES = 1024

    response = client.post(API, {"file": upload(content=b"x" * 1025)})

    assert response.status_code == 413
    assert response.json()["error"] == (
        "File too large (got 1025 bytes): the limit is 1024 bytes. Upload a smaller file."
    )
    assert_nothing_written()


def test_body_over_the_limit_is_refused_before_it_is_read(client, settings):
    settings.UPLOAD_MAX_BYTES = 1024

    response = client.post(API, {"file": upload(content=b"x" * 200_000)})

    assert response.status_code == 413
    assert "the limit is 1024 bytes" in response.json()["error"]
    assert_nothing_written()


def test_oversized_content_length_is_refused_without_touching_the_body(rf, settings):
    from documents.middleware import UploadSizeLimitMiddleware

    class Unreadable:
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = read

    request = rf.post(API, data=b"", content_type="multipart/form-data; boundary=x")
    request.META["CONTENT_LENGTH"] = str(settings.UPLOAD_MAX_BYTES * 2)
    request._stream = Unreadable()
    middleware = UploadSizeLimitMiddleware(lambda request: pytest.fail("view reached"))

    response = middleware(request)

    assert response.status_code == 413


def test_content_type_not_allowed_is_415(client):
    response = client.post(API, {"file": upload(name="x.html", content_type="text/html")})

    assert response.status_code == 415
    assert "'text/html' is not accepted" in response.json()["error"]
    assert "text/plain" in response.json()["error"]
    assert_nothing_written()


def test_malformed_json_is_400(client):
    response = client.post(API, data="{not json", content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("Malformed JSON body: Expecting property name")
    assert 'multipart/form-data with the file in a field named "file"' in error
    assert_nothing_written()


def test_json_nested_too_deep_to_parse_is_400(client):
    response = client.post(API, data="[" * 100_000, content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("Malformed JSON body: nested too deeply to parse.")
    assert "multipart/form-data" in error
    assert_nothing_written()


def test_well_formed_json_is_415_with_the_way_to_upload(client):
    response = client.post(API, data=json.dumps({"name": "x"}), content_type="application/json")

    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["error"]
    assert_nothing_written()


def test_other_body_types_are_415(client):
    response = client.post(API, data="a=b", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert_nothing_written()


def test_missing_file_is_400(client):
    response = client.post(API, {"other": "field"})

    assert response.status_code == 400
    assert 'field named "file"' in response.json()["error"]
    assert_nothing_written()


def test_empty_file_is_400(client):
    response = client.post(API, {"file": upload(content=b"")})

    assert response.status_code == 400
    assert "is empty" in response.json()["error"]
    assert_nothing_written()


def test_unknown_host_is_400_in_json(client):
    response = client.post(API, {"file": upload()}, HTTP_HOST="attacker.example")

    assert response.status_code == 400
    assert "Host header" in response.json()["error"]
    assert_nothing_written()


def test_database_failure_removes_the_stored_file(client, monkeypatch):
    def fail(*args, **kwargs):
        raise IntegrityError("simulated")

    monkeypatch.setattr(Document, "save", fail)

    with pytest.raises(IntegrityError):
        client.post(API, {"file": upload()})

    monkeypatch.undo()
    assert_nothing_written()


@pytest.mark.django_db(transaction=True)
def test_upload_that_cannot_be_queued_is_kept_and_marked_failed(client, settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "sqs_tasks.backend.SQSBackend",
            "OPTIONS": {"QUEUE_URL": "https://sqs.invalid/000000000000/tasks"},
        }
    }

    class DownQueue:
        def send(self, body):
            raise ConnectionError("queue unreachable")

    default_task_backend.queue = DownQueue()

    response = client.post(API, {"file": upload()})

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "failed"
    assert body["error"] == "could not queue for processing: ConnectionError: queue unreachable"
    assert stored_files() == [body["storage_key"]]
