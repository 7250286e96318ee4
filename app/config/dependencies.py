"""Dependency outages answered fast: bounded request slots and 503s that name what is down.

`RequestSlotsMiddleware` admits at most `settings.REQUEST_SLOTS` requests at once per process and
answers the rest 503 after `settings.REQUEST_SLOT_WAIT` seconds (at once when every slot has been
held for `REQUEST_SLOT_STUCK` seconds) instead of queueing them behind requests stuck on a
dependency; liveness (answered before this middleware) and readiness (bounded
by its own timeouts) never wait for a slot. A view that fails because the database or an AWS
service is unreachable or timed out answers 503 with Retry-After and a JSON body naming it.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase, JsonResponse

logger = logging.getLogger(__name__)

# Readiness answers within READINESS_TIMEOUT on its own, and must report an outage, not "busy".
SLOT_EXEMPT_PATHS = frozenset({"/readyz"})


class DependencyUnavailable(Exception):
    """`dependency` (s3, sqs, database) did not answer within the configured timeouts."""

    def __init__(self, dependency: str, cause: Exception) -> None:
        super().__init__(f"{dependency} unavailable: {type(cause).__name__}: {cause}")
        self.dependency = dependency


def unavailable(message: str, *, dependency: str | None = None) -> JsonResponse:
    body = {"error": message, **({"dependency": dependency} if dependency else {})}
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(settings.DEPENDENCY_RETRY_AFTER)
    return response


def _unavailable_dependency(exception: Exception) -> str | None:
    if isinstance(exception, DependencyUnavailable):
        return exception.dependency
    # Lost, refused or timed-out connections and cancelled statements; other database errors
    # (integrity, data) are bugs, not outages.
    if isinstance(exception, OperationalError | InterfaceError):
        return "database"
    return None


class RequestSlotsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        # One per process: Django builds the middleware chain once per WSGI handler.
        self.slots = threading.BoundedSemaphore(settings.REQUEST_SLOTS)
        self.lock = threading.Lock()
        self.held_since: dict[int, float] = {}  # thread → when its request took its slot

    def _every_slot_stuck(self) -> bool:
        """Every slot held longer than REQUEST_SLOT_STUCK: none is about to come free, so a
        request waiting for one would only delay the requests queued behind it (/healthz too)."""
        with self.lock:
            return (
                len(self.held_since) >= settings.REQUEST_SLOTS
                and time.monotonic() - max(self.held_since.values()) > settings.REQUEST_SLOT_STUCK
            )

    def _acquire(self) -> bool:
        if self.slots.acquire(blocking=False):
            return True
        return not self._every_slot_stuck() and self.slots.acquire(
            timeout=settings.REQUEST_SLOT_WAIT
        )

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info in SLOT_EXEMPT_PATHS:
            return self.get_response(request)
        if not self._acquire():
            return unavailable(
                "Server busy: every request slot of this process is taken (a dependency may be "
                f"slow); retry after {settings.DEPENDENCY_RETRY_AFTER} s."
            )
        thread = threading.get_ident()
        with self.lock:
            self.held_since[thread] = time.monotonic()
        try:
            return self.get_response(request)
        finally:
            with self.lock:
                del self.held_since[thread]
            self.slots.release()

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        dependency = _unavailable_dependency(exception)
        if dependency is None:
            return None
        logger.warning(
            "%s unavailable for %s %s: %s", dependency, request.method, request.path, exception
        )
        return unavailable(
            f"Dependency {dependency!r} is unavailable (unreachable or timed out); retry after "
            f"{settings.DEPENDENCY_RETRY_AFTER} s.",
            dependency=dependency,
        )
