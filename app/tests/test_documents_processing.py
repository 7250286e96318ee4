import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.detection import detect_content_type
from documents.models import Document
from documents.storage_keys import document_key
from documents.tasks import process_document

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 32


def stored_document(content: bytes, name="file.bin", content_type="application/pdf") -> Document:
    document = Document.objects.create(
        original_name=name, content_type=content_type, storage_key=f"documents/t/{name}", size=1
    )
    default_storage.save(document.storage_key, ContentFile(content))
    return document


@pytest.mark.django_db
def test_processing_measures_the_stored_bytes():
    content = PNG * 1000  # larger than the sniffing window
    document = stored_document(content, content_type="image/png")

    result = process_document.call(str(document.id))

    document.refresh_from_db()
    assert document.status == Document.Status.PROCESSED
    assert document.size == len(content)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert document.detected_content_type == "image/png"
    assert document.processed_at is not None
    assert document.error == ""
    assert result == {
        "sha256": document.sha256,
        "size": len(content),
        "detected_content_type": "image/png",
    }


@pytest.mark.django_db
def test_a_repeated_message_for_a_processed_document_is_skipped_and_logged(caplog):
    document = stored_document(PNG, content_type="image/png")
    process_document.call(str(document.id))
    processed_at = Document.objects.get(pk=document.pk).processed_at
    default_storage.delete(document.storage_key)  # a second run would fail on it

    result = process_document.call(str(document.id))

    assert result == {"skipped": "already processed"}
    document.refresh_from_db()
    assert (document.status, document.processed_at) == (Document.Status.PROCESSED, processed_at)
    assert f"document {document.id} is already processed; skipping" in caplog.text


@pytest.mark.django_db
def test_processing_failure_marks_failed_and_reraises():
    document = Document.objects.create(
        original_name="gone.txt", content_type="text/plain", storage_key="documents/x/gone", size=1
    )

    with pytest.raises(FileNotFoundError):
        process_document.call(str(document.id))

    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error.startswith("FileNotFoundError:")


@pytest.mark.django_db(transaction=True)
def test_upload_is_processed_inline_with_the_immediate_backend(logged_in, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    upload = SimpleUploadedFile("notes.txt", b"plain words\n", content_type="text/plain")

    body = logged_in.post("/api/documents/", {"file": upload}).json()

    assert body["status"] == "processed"
    assert body["detected_content_type"] == "text/plain"
    assert body["sha256"] == hashlib.sha256(b"plain words\n").hexdigest()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PNG, "image/png"),
        (b"%PDF-1.7\n", "application/pdf"),
        ("naïve café\n".encode(), "text/plain"),
        ("é".encode()[:1], "text/plain"),  # cut inside a multi-byte character
        (b"\xff\xfe\x00\x01binary", "application/octet-stream"),
        (b"text\x00with nul", "application/octet-stream"),
        (b"\xc3\x28 invalid utf-8 in the middle", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_detect_content_type(head, expected):
    assert detect_content_type(head) == expected


def test_document_key_sanitises_names(settings):
    import uuid

    document_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    prefix = f"documents/{document_id}/"

    assert document_key(document_id, "report 2024.pdf") == prefix + "report_2024.pdf"
    assert document_key(document_id, "..") == prefix + "upload"
    long_key = document_key(document_id, "a" * 300 + ".pdf")
    assert long_key == prefix + "a" * 196 + ".pdf"
