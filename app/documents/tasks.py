import hashlib
import logging
from typing import Any

from django.core.files.storage import default_storage
from django.tasks import task
from django.utils import timezone

from documents.detection import SNIFF_BYTES, TextScan, content_problem, detect_content_type
from documents.models import Document

logger = logging.getLogger(__name__)


@task
def process_document(document_id: str) -> dict[str, Any]:
    """Measure the stored bytes (size, sha256, detected type) and mark the document processed;
    a document already processed is skipped, with a log line saying so.

    Content that is not what was declared (or not an allowed type) marks the document failed with
    the reason and removes its object: a verdict, not an error, so nothing is retried. Any other
    failure marks it failed and is re-raised, so the queue retries the message and, after its last
    attempt, moves it to the dead-letter queue.
    """
    document = Document.objects.get(pk=document_id)
    if document.status == Document.Status.PROCESSED:
        # SQS delivers at least once: a message can come back after its task succeeded (a worker
        # stopped between the task and the delete, say). The stored bytes are the same.
        logger.info("document %s is already processed; skipping the repeated message", document.id)
        return {"skipped": "already processed"}
    document.status = Document.Status.PROCESSING
    document.error = ""
    document.save(update_fields=["status", "error", "updated_at"])
    try:
        digest = hashlib.sha256()
        size = 0
        head = b""
        text = TextScan()
        with default_storage.open(document.storage_key, "rb") as stored:
            for chunk in stored.chunks():
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                digest.update(chunk)
                text.feed(chunk)
                size += len(chunk)
        text.feed(b"", final=True)
        document.size = size
        document.sha256 = digest.hexdigest()
        document.detected_content_type = detect_content_type(head)
        problem = content_problem(document.content_type, head)
        if problem is None and document.content_type.startswith("text/") and not text.is_text:
            problem = (
                f"The content is not text throughout, not the declared {document.content_type}."
            )
        if problem:
            return _reject(document, problem)
        document.status = Document.Status.PROCESSED
        document.processed_at = timezone.now()
        document.save()
    except Exception as error:
        Document.objects.filter(pk=document.pk).update(
            status=Document.Status.FAILED,
            error=f"{type(error).__name__}: {error}",
            updated_at=timezone.now(),
        )
        raise
    logger.info("processed document %s (%s bytes)", document.id, size)
    return {
        "sha256": document.sha256,
        "size": size,
        "detected_content_type": document.detected_content_type,
    }


def _reject(document: Document, problem: str) -> dict[str, Any]:
    """Mark the document failed with `problem` and delete its object, which nobody may fetch."""
    default_storage.delete(document.storage_key)
    document.status = Document.Status.FAILED
    document.error = f"{problem} The stored file was removed."
    document.save()
    logger.warning("rejected document %s: %s", document.id, problem)
    return {"rejected": problem, "detected_content_type": document.detected_content_type}
