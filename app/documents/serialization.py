from typing import Any

from documents.models import Document


def document_json(document: Document) -> dict[str, Any]:
    return {
        "id": str(document.id),
        "original_name": document.original_name,
        "content_type": document.content_type,
        "detected_content_type": document.detected_content_type or None,
        "size": document.size,
        "sha256": document.sha256 or None,
        "status": document.status,
        "error": document.error or None,
        "storage_key": document.storage_key,
        "created_at": document.created_at.isoformat(),
        "updated_at": document.updated_at.isoformat(),
        "processed_at": document.processed_at.isoformat() if document.processed_at else None,
    }
