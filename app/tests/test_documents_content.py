"""Content must be what it is declared to be: refused at upload when the first bytes tell,
otherwise failed (never processed) by the worker, which removes the stored object."""

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.tasks import default_task_backend
from django.urls import reverse

from documents.detection import SNIFF_BYTES
from documents.models import Document
from documents.storage_keys import MAX_NAME_LENGTH, document_key, name_problem
from documents.tasks import process_document

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("logged_in")]

API = "/api/documents/"
# The start of a Windows executable (DOS header): filetype reports application/x-msdownload.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 240
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 32


def upload(content: bytes, content_type: str, name: str = "file") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def assert_nothing_stored():
    assert Document.objects.count() == 0
    assert default_storage.listdir("") == ([], [])
    assert default_task_backend.results == []


def test_executable_declared_as_pdf_is_refused_by_the_api(client):
    response = client.post(API, {"file": upload(EXE, "application/pdf", "invoice.pdf")})

    assert response.status_code == 415
    assert response.json()["error"] == (
        "invoice.pdf was not stored. "
        "The content is application/x-msdownload, not the declared application/pdf."
    )
    assert_nothing_stored()


def test_executable_declared_as_pdf_is_refused_by_the_form(client):
    response = client.post(
        reverse("documents:index"), {"file": upload(EXE, "application/pdf", "invoice.pdf")}
    )

    assert response.status_code == 415
    assert "not the declared application/pdf" in response.content.decode()
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("content", "declared"),
    [
        (PNG, "image/jpeg"),  # an allowed type, but not the declared one
        (b"%PDF-1.7\n", "text/plain"),
        (b"\x00\x01\x02 binary", "text/csv"),
        (b"just words\n", "application/pdf"),
    ],
)
def test_content_other_than_declared_is_refused(client, content, declared):
    response = client.post(API, {"file": upload(content, declared)})

    assert response.status_code == 415
    assert f"not the declared {declared}" in response.json()["error"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("content", "declared"),
    [(PNG, "image/png"), (b"%PDF-1.7\n%%EOF\n", "application/pdf"), (b"a,b\n1,2\n", "text/csv")],
)
def test_content_that_matches_its_declared_type_is_accepted(client, content, declared):
    assert client.post(API, {"file": upload(content, declared)}).status_code == 201


def stored_document(content: bytes, content_type: str) -> Document:
    """A document stored without passing the upload's checks (as if the rules had changed)."""
    document_id = uuid.uuid4()
    key = default_storage.save(document_key(document_id, "file"), ContentFile(content))
    return Document.objects.create(
        id=document_id, original_name="file", content_type=content_type, storage_key=key, size=1
    )


def test_worker_fails_an_executable_declared_as_pdf_and_removes_it():
    document = stored_document(EXE, "application/pdf")

    result = process_document.call(str(document.id))

    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error == (
        "The content is application/x-msdownload, not the declared application/pdf. "
        "The stored file was removed."
    )
    assert document.detected_content_type == "application/x-msdownload"
    assert document.processed_at is None
    assert not default_storage.exists(document.storage_key)
    assert result["rejected"].startswith("The content is application/x-msdownload")


def test_worker_fails_a_text_file_with_binary_after_the_sniffed_head():
    # The upload sees only the first bytes: text there, an executable appended further on.
    content = b"looks like text\n" * (SNIFF_BYTES // 16 + 1) + EXE
    document = stored_document(content, "text/plain")

    process_document.call(str(document.id))

    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "not text throughout" in document.error
    assert not default_storage.exists(document.storage_key)


def test_worker_fails_a_type_no_longer_allowed(settings):
    document = stored_document(PNG, "image/png")
    settings.UPLOAD_ALLOWED_TYPES = ["application/pdf"]

    process_document.call(str(document.id))

    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "'image/png' is not accepted" in document.error
    assert not default_storage.exists(document.storage_key)


def test_long_text_that_stays_text_is_processed():
    document = stored_document("naïve café\n".encode() * 2000, "text/plain")

    process_document.call(str(document.id))

    document.refresh_from_db()
    assert document.status == Document.Status.PROCESSED


# --- file names ---------------------------------------------------------------------------------


def test_a_name_over_the_limit_is_a_400(client):
    name = "n" * (MAX_NAME_LENGTH - 3) + ".txt"

    response = client.post(API, {"file": upload(b"words\n", "text/plain", name)})

    assert response.status_code == 400
    assert response.json()["error"] == (
        f"File name too long ({MAX_NAME_LENGTH + 1} characters): the limit is {MAX_NAME_LENGTH}. "
        "Rename the file and upload it again."
    )
    assert_nothing_stored()


def test_a_name_at_the_limit_is_accepted(client):
    name = "n" * (MAX_NAME_LENGTH - 4) + ".txt"

    assert client.post(API, {"file": upload(b"words\n", "text/plain", name)}).status_code == 201


@pytest.mark.parametrize(
    ("name", "shown"), [("C:report.txt", "':'"), ('a|b"?.txt', "'\"', '?', '|'")]
)
def test_characters_a_file_name_cannot_hold_are_a_400(client, name, shown):
    response = client.post(API, {"file": upload(b"words\n", "text/plain", name)})

    assert response.status_code == 400
    assert response.json()["error"] == (
        f"File name contains characters a file name cannot hold ({shown}). "
        "Rename the file and upload it again."
    )
    assert_nothing_stored()


def test_unprintable_characters_are_named_by_code_point():
    # Django's multipart parser drops them from HTTP uploads; other callers get the same rule.
    assert "(U+0009, U+202E)" in name_problem("invoice\u202efdp.exe\t")


@pytest.mark.parametrize(
    ("name", "key_name"),
    [
        ("Résumé 2024.txt", "Resume_2024.txt"),
        ("отчёт.txt", ".txt"),
        ("日本.txt", ".txt"),
        ("..", "upload"),
        ("ﬃ" * 150, "ffi" * 66 + "ff"),
    ],
)
def test_storage_keys_are_ascii_and_bounded(name, key_name):
    document_id = uuid.UUID("12345678-1234-5678-1234-567812345678")

    assert document_key(document_id, name) == f"documents/{document_id}/{key_name}"
