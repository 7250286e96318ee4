"""File names: what an uploader may call a file, and the storage key it is kept under."""

import unicodedata
import uuid
from pathlib import PurePath

from django.core.exceptions import SuspiciousFileOperation
from django.utils.text import get_valid_filename

# S3 allows 1024-byte keys; the prefix and UUID use 47. The page shows the name in full.
MAX_NAME_LENGTH = 200
RESERVED_CHARACTERS = frozenset('<>:"/\\|?*')


def name_problem(name: str) -> str | None:
    """Why an uploaded file's name is refused, or None when it is acceptable."""
    if len(name) > MAX_NAME_LENGTH:
        return (
            f"File name too long ({len(name)} characters): the limit is {MAX_NAME_LENGTH}. "
            "Rename the file and upload it again."
        )
    # Characters no file name may hold on Windows (which would not save the file under its name),
    # and unprintable ones; Django's multipart parser already drops the latter from HTTP uploads.
    refused = sorted(
        {char for char in name if char in RESERVED_CHARACTERS or not char.isprintable()}
    )
    if refused:
        shown = ", ".join(
            repr(char) if char.isprintable() else f"U+{ord(char):04X}" for char in refused
        )
        return (
            f"File name contains characters a file name cannot hold ({shown}). "
            "Rename the file and upload it again."
        )
    return None


def document_key(document_id: uuid.UUID, original_name: str) -> str:
    """The storage key "documents/<uuid>/<name>": ASCII letters, digits, "-", "_" and "." only."""
    ascii_name = (
        unicodedata.normalize("NFKD", PurePath(original_name).name)
        .encode("ascii", "ignore")
        .decode()
    )
    try:
        name = get_valid_filename(ascii_name)
    except SuspiciousFileOperation:
        name = "upload"
    # Compatibility decomposition can lengthen a name (one ligature becomes several letters).
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePath(name).suffix[:20]
        name = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return f"documents/{document_id}/{name}"
