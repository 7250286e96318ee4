"""A request's body is read in full before the request takes a slot, and at a minimum pace.

RequestSlotsMiddleware (config.dependencies) bounds the requests that may wait on a dependency.
Django reads a body lazily, when the CSRF check or the view asks for it, long after the slot was
taken: a client that sent its body slowly held a slot for as long as it cared to, logged in or
not, and a few such clients held them all. This middleware comes before the slots and reads the
body first, into a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE (UploadSizeLimitMiddleware,
before it, has refused a Content-Length over the limit).

The read still holds one of the server's threads, and gunicorn has few. Where the WSGI server
hands over its socket (gunicorn: environ["gunicorn.socket"]) the read has a deadline:
REQUEST_BODY_TIMEOUT seconds, plus one more for every REQUEST_BODY_MIN_RATE bytes received, so a
large upload on a slow link earns its time while a client that trickles bytes earns none. When it
passes, the socket's reading side is shut, which wakes the blocked read, and the client gets 408.
runserver gives each connection a thread of its own, so there the body is only read first.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from tempfile import SpooledTemporaryFile
from typing import BinaryIO, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from config.errors import refusal

CHUNK_BYTES = 64 * 1024
SERVER_SOCKET = "gunicorn.socket"


def content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class Deadline:
    """Shuts `sock`'s reading side once the body falls behind its pace (see the module)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._ends = time.monotonic() + settings.REQUEST_BODY_TIMEOUT
        self._finished = False
        self.passed = False
        self._check_at(self._ends)

    def received(self, size: int) -> None:
        with self._lock:
            self._ends += size / settings.REQUEST_BODY_MIN_RATE

    def finish(self) -> None:
        with self._lock:
            self._finished = True
            self._timer.cancel()

    def _check_at(self, when: float) -> None:
        self._timer = threading.Timer(max(0.0, when - time.monotonic()), self._check)
        self._timer.daemon = True
        self._timer.start()

    def _check(self) -> None:
        with self._lock:
            if self._finished:
                return
            if time.monotonic() < self._ends:  # bytes arrived meanwhile and earned more time
                self._check_at(self._ends)
                return
            self.passed = True
        with contextlib.suppress(OSError):  # the client has closed the connection already
            self._sock.shutdown(socket.SHUT_RD)


def read_body(request: HttpRequest, length: int) -> bool:
    """Read the `length` bytes of body from the stream Django reads it from, and make that stream
    a temporary file holding them (as HttpRequest.body does with the bytes it reads): whatever
    reads the body later (request.POST, request.FILES, request.body) reads the file. Returns
    whether every byte arrived."""
    sock = request.META.get(SERVER_SOCKET)
    deadline = Deadline(sock) if isinstance(sock, socket.socket) else None
    # Outlives this function: it is the request's body from now on.
    spool = SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
    received = 0
    try:
        while received < length:
            chunk = request._stream.read(min(CHUNK_BYTES, length - received))
            if not chunk:
                break
            spool.write(chunk)
            received += len(chunk)
            if deadline:
                deadline.received(len(chunk))
    except OSError:
        pass  # the connection broke: the body is short, which the caller answers
    finally:
        if deadline:
            deadline.finish()
    spool.seek(0)
    request._stream = cast(BinaryIO, spool)
    return received == length


class RequestBodyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        length = content_length(request)
        if length and not read_body(request, length):
            return refusal(
                request,
                408,
                f"The request body did not arrive in time: {length} bytes were announced. "
                "Send it again on a steadier connection.",
            )
        return self.get_response(request)
