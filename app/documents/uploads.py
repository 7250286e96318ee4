"""Accepting an upload: validate it, store the bytes, record the row, queue the processing.

Shared by the HTML form and the JSON API so both enforce exactly the same rules.
"""

import logging
import uuid
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.models import User
from documents.detection import SNIFF_BYTES, TAIL_BYTES, content_problem, structure_problem
from documents.models import Document
from documents.storage_keys import document_key, name_problem
from documents.tasks import process_document

logger = logging.getLogger(__name__)


class UploadRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def too_large_message(size: int | None = None) -> str:
    limit = settings.UPLOAD_MAX_BYTES
    got = f" (got {size} bytes)" if size is not None else ""
    return f"File too large{got}: the limit is {limit} bytes. Upload a smaller file."


def validate(file: UploadedFile | None) -> UploadedFile:
    if file is None:
        raise UploadRejected(
            400, 'No file received: send it as multipart/form-data in a field named "file".'
        )
    if file.size is None or file.size > settings.UPLOAD_MAX_BYTES:
        raise UploadRejected(413, too_large_message(file.size))
    if problem := name_problem(file.name or ""):
        raise UploadRejected(400, problem)
    if file.size == 0:
        raise UploadRejected(400, f"{file.name} is empty: upload a file with content.")
    # What the first and last bytes tell, before anything is stored; the worker checks the rest.
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    file.seek(max(0, file.size - TAIL_BYTES))
    tail = file.read()
    file.seek(0)
    declared = file.content_type or ""
    if problem := content_problem(declared, head):
        raise UploadRejected(415, f"{file.name} was not stored. {problem}")
    if problem := structure_problem(declared, head, tail):
        raise UploadRejected(400, f"{file.name} was not stored. {problem}")
    return file


def accept(file: UploadedFile | None, uploaded_by: User | AnonymousUser) -> Document:
    """Store a valid upload and queue its processing; raise UploadRejected having stored nothing."""
    file = validate(file)
    original_name = file.name or "upload"
    document_id = uuid.uuid4()
    stored_key = default_storage.save(document_key(document_id, original_name), file)
    document = Document(
        id=document_id,
        original_name=original_name,
        content_type=file.content_type or "",
        storage_key=stored_key,
        size=file.size or 0,
        uploaded_by=uploaded_by if uploaded_by.is_authenticated else None,
    )
    try:
        with transaction.atomic():
            document.save(force_insert=True)
            # After commit: a worker that picks the message up must find the row.
            transaction.on_commit(partial(_queue_processing, document))
    except Exception:
        default_storage.delete(stored_key)
        raise
    return document


def _queue_processing(document: Document) -> None:
    try:
        process_document.enqueue(str(document.id))
    except Exception as error:
        # The upload itself succeeded; keep it and say why it will not be processed.
        logger.exception("could not queue document %s for processing", document.id)
        document.status = Document.Status.FAILED
        document.error = f"could not queue for processing: {type(error).__name__}: {error}"
        document.save(update_fields=["status", "error", "updated_at"])
