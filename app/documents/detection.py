"""What a stored file really is, judged from its first bytes, not from what the uploader said."""

import filetype

# filetype needs at most the first 261 bytes; the text heuristic looks a little further.
SNIFF_BYTES = 8192
OCTET_STREAM = "application/octet-stream"


def detect_content_type(head: bytes) -> str:
    kind = filetype.guess_mime(head)
    if kind:
        return str(kind)
    return "text/plain" if _looks_like_text(head) else OCTET_STREAM


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The sample may end in the middle of a multi-byte character; that is still text.
        return error.reason == "unexpected end of data"
    return True
