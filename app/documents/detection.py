"""What a file really is, judged from its bytes, not from what the uploader said."""

import codecs

import filetype
from django.conf import settings

# filetype needs at most the first 261 bytes; the text heuristic looks a little further.
SNIFF_BYTES = 8192
OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain"


def detect_content_type(head: bytes) -> str:
    kind = filetype.guess_mime(head)
    if kind:
        return str(kind)
    return TEXT if _looks_like_text(head) else OCTET_STREAM


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The sample may end in the middle of a multi-byte character; that is still text.
        return error.reason == "unexpected end of data"
    return True


def matches(declared: str, detected: str) -> bool:
    """Whether content detected as `detected` is what `declared` says (any text/* is text)."""
    return detected == declared or (detected == TEXT and declared.startswith("text/"))


def content_problem(declared: str, head: bytes) -> str | None:
    """Why a file declared as `declared` that starts with `head` may not be kept; None if it may."""
    if declared not in settings.UPLOAD_ALLOWED_TYPES:
        allowed = ", ".join(settings.UPLOAD_ALLOWED_TYPES)
        return f"Content type {declared!r} is not accepted. Allowed types: {allowed}."
    detected = detect_content_type(head)
    if not matches(declared, detected):
        return f"The content is {detected}, not the declared {declared}."
    return None


class TextScan:
    """Follows a file chunk by chunk: is all of it UTF-8 text, not just the sniffed head?

    A file can start as text and carry binary (an executable, say) after the first bytes, which
    is all the upload checks; the worker reads every byte anyway and checks the rest with this.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.is_text = True

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        if not self.is_text:
            return
        try:
            self._decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            self.is_text = False
        if b"\x00" in chunk:
            self.is_text = False
