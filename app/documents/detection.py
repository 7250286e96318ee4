"""What a file really is, judged from its bytes, not from what the uploader said."""

import codecs
import re

import filetype
from django.conf import settings

# filetype needs at most the first 261 bytes; the text heuristic looks a little further.
SNIFF_BYTES = 8192
OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain"
PDF = "application/pdf"

# Where a browser looks to decide whether a file is a page (the MIME sniffing standard reads
# 1445 bytes; its HTML patterns start within the first few), and the tags that make one.
HTML_SNIFF_BYTES = 1024
HTML_MARKUP = re.compile(
    rb"<(!doctype html|html|head|body|script|iframe|object|embed|svg|style|title)[\s/>]",
    re.IGNORECASE,
)
# A ZIP reader finds an archive by its end record (22 bytes plus a comment of up to 65,535),
# searching back from the end of the file: any ZIP that a reader would open ends in this tail.
ZIP_END_RECORD = b"PK\x05\x06"
TAIL_BYTES = 22 + 65_535
# What may follow a PDF's last %%EOF: its whitespace (NUL, tab, LF, FF, CR, space).
PDF_EOF = b"%%EOF"
PDF_WHITESPACE = b"\x00\t\n\x0c\r "


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


def structure_problem(declared: str, head: bytes, tail: bytes) -> str | None:
    """Why a file of a declared binary type holds more than that type (a polyglot), or None.

    `head` is the file's start (at least HTML_SNIFF_BYTES), `tail` its last TAIL_BYTES. Refused:
    HTML markup in the first 1024 bytes, which a browser could take for a page; a ZIP archive that
    ends in the tail (appended to the file, or hidden before a PDF's last %%EOF in its comment);
    and for a PDF, anything but whitespace after its last %%EOF. Text types are not checked: text
    may well be about HTML, and the worker checks that all of it is text.
    """
    if declared.startswith("text/"):
        return None
    if markup := HTML_MARKUP.search(head[:HTML_SNIFF_BYTES]):
        tag = markup[0][:-1].decode("ascii")
        return (
            f"It holds HTML markup ({tag}) in its first {HTML_SNIFF_BYTES} bytes, where browsers "
            "look to decide what a file is."
        )
    if ZIP_END_RECORD in tail:
        return "A ZIP archive ends in its last 64 KiB: another file is hidden in it."
    if declared == PDF:
        return _pdf_end_problem(tail)
    return None


def _pdf_end_problem(tail: bytes) -> str | None:
    end = tail.rfind(PDF_EOF)
    if end < 0:
        return f"There is no %%EOF in its last {len(tail)} bytes: it is not a complete PDF."
    after = tail[end + len(PDF_EOF) :]
    if after.strip(PDF_WHITESPACE):
        return f"{len(after)} bytes follow the PDF's last %%EOF: something was appended to it."
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
