"""File names: what an uploader may call a file, and the storage key it is kept under."""

import unicodedata
import uuid
from pathlib import PurePath

from django.core.exceptions import SuspiciousFileOperation
from django.utils.text import get_valid_filename

# S3 allows 1024-byte keys; the prefix and UUID use 47. The page shows the name in full.
MAX_NAME_LENGTH = 200
RESERVED_CHARACTERS = frozenset('<>:"/\\|?*')
# Device names Windows reserves whatever the extension ("NUL.txt" too) and the case.
WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{number}" for port in ("COM", "LPT") for number in "0123456789\u00b9\u00b2\u00b3"}
)
# Printable to Python (letters, symbols, marks) yet drawn as nothing or as a blank: the Hangul
# fillers, the blank braille pattern, the combining grapheme joiner, Khmer inherent vowels, the
# Mongolian and other variation selectors. Format characters (U+200B, U+202E...) and spaces other
# than " " are not printable, so the character check refuses them already.
INVISIBLE_CHARACTERS = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
RENAME = "Rename the file and upload it again."


def name_problem(name: str) -> str | None:
    """Why an uploaded file's name is refused, or None when it is acceptable."""
    problem = (
        _length_problem(name)
        or _character_problem(name)
        or _invisible_problem(name)
        or _windows_problem(name)
    )
    return f"{problem} {RENAME}" if problem else None


def _length_problem(name: str) -> str | None:
    if len(name) > MAX_NAME_LENGTH:
        return f"File name too long ({len(name)} characters): the limit is {MAX_NAME_LENGTH}."
    return None


def _code_points(characters: set[str]) -> str:
    return ", ".join(
        repr(char) if char.isprintable() else f"U+{ord(char):04X}" for char in sorted(characters)
    )


def _character_problem(name: str) -> str | None:
    # Characters no file name may hold on Windows (which would not save the file under its name),
    # and unprintable ones; Django's multipart parser already drops the latter from HTTP uploads.
    refused = {char for char in name if char in RESERVED_CHARACTERS or not char.isprintable()}
    if refused:
        return f"File name contains characters a file name cannot hold ({_code_points(refused)})."
    return None


def _invisible_problem(name: str) -> str | None:
    invisible = set(name) & INVISIBLE_CHARACTERS
    if invisible:
        shown = ", ".join(f"U+{ord(char):04X}" for char in sorted(invisible))
        return f"File name contains invisible characters ({shown}): it would not show its name."
    return None


def _windows_problem(name: str) -> str | None:
    if not name.strip(". "):
        return "File name is only dots and spaces: it names no file."
    if name.endswith((".", " ")):
        return "File name ends in a dot or a space, which Windows drops from a name."
    device = name.split(".", 1)[0].rstrip(" ")
    if device.upper() in WINDOWS_DEVICES:
        return f"File name {name!r} is a device name Windows reserves ({device}), whatever follows."
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
