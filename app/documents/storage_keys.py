import uuid
from pathlib import PurePath

from django.core.exceptions import SuspiciousFileOperation
from django.utils.text import get_valid_filename

# S3 allows 1024-byte keys; the prefix and UUID use 47, so this leaves room for any name.
MAX_NAME_LENGTH = 200


def document_key(document_id: uuid.UUID, original_name: str) -> str:
    """The storage key "documents/<uuid>/<safe filename>" for an uploaded file."""
    try:
        name = get_valid_filename(PurePath(original_name).name)
    except SuspiciousFileOperation:
        name = "upload"
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePath(name).suffix[:20]
        name = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return f"documents/{document_id}/{name}"
