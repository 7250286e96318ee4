"""A log line per request, and a request id that follows the request through every log record."""

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger("hangar.request")

REQUEST_ID_HEADER = "X-Request-ID"
# The ALB adds X-Amzn-Trace-Id (Root=1-...;Parent=...;Sampled=1) to every request it forwards.
_INCOMING_HEADERS = (REQUEST_ID_HEADER, "X-Amzn-Trace-Id")
# Ids end up in log lines and a response header: accept only what cannot forge either.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9=;:._-]{1,200}")

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


def incoming_request_id(request: HttpRequest) -> str:
    for header in _INCOMING_HEADERS:
        value = request.headers.get(header, "")
        if _VALID_REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being served ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = incoming_request_id(request)
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            response[REQUEST_ID_HEADER] = request_id
            status = response.status_code
            level = (
                logging.ERROR
                if status >= 500
                else logging.WARNING
                if status >= 400
                else logging.INFO
            )
            # The path only: query strings can carry tokens that must not reach the logs.
            logger.log(
                level,
                "%s %s %s %.1fms",
                request.method,
                request.path,
                status,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
            return response
        finally:
            current_request_id.reset(token)
