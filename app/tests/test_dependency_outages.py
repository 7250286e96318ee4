"""A dependency that is down or hanging costs a fast 503 naming it, never every request thread."""

import json
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse

from config import concurrency
from config.dependencies import RequestSlotsMiddleware
from documents.models import Document

SLOW_PATH = "/documents/slow"


def held_slots(settings, slots: int) -> tuple[RequestSlotsMiddleware, threading.Event, list]:
    """A middleware whose `slots` slots are all taken by requests stuck in SLOW_PATH."""
    settings.REQUEST_SLOTS = slots
    settings.REQUEST_SLOT_WAIT = 0.05
    release = threading.Event()
    entered = threading.Semaphore(0)

    def view(request: HttpRequest) -> HttpResponse:
        if request.path == SLOW_PATH:
            entered.release()
            release.wait(10)
        return HttpResponse("done")

    middleware = RequestSlotsMiddleware(view)
    threads = [threading.Thread(target=middleware, args=(_get(SLOW_PATH),)) for _ in range(slots)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert entered.acquire(timeout=5)
    return middleware, release, threads


def _get(path: str) -> HttpRequest:
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = path
    return request


def test_one_gunicorn_thread_is_always_left_for_liveness(monkeypatch):
    monkeypatch.setenv("GUNICORN_THREADS", "6")
    assert (concurrency.threads(), concurrency.request_slots()) == (6, 5)


def test_a_request_beyond_the_slots_is_a_fast_503_and_slots_come_back(settings):
    middleware, release, threads = held_slots(settings, slots=2)
    try:
        started = time.monotonic()
        response = middleware(_get("/documents/"))
        waited = time.monotonic() - started

        assert response.status_code == 503
        assert response["Retry-After"] == str(settings.DEPENDENCY_RETRY_AFTER)
        assert json.loads(response.content)["error"].startswith("Server busy: every request slot")
        # Not held until the slow requests end (10 s): REQUEST_SLOT_WAIT is 0.05 s, and the
        # margin is for a loaded machine's scheduling, not for the code.
        assert waited < 5
        # Readiness never waits for a slot: it has its own bounded timeouts.
        assert middleware(_get("/readyz")).status_code == 200
    finally:
        release.set()
        for thread in threads:
            thread.join()

    assert middleware(_get("/documents/")).status_code == 200


def test_with_every_slot_stuck_a_request_is_refused_without_waiting(settings):
    middleware, release, threads = held_slots(settings, slots=2)
    settings.REQUEST_SLOT_WAIT = 5
    settings.REQUEST_SLOT_STUCK = 0.05
    try:
        time.sleep(0.1)  # both slots now held longer than REQUEST_SLOT_STUCK
        started = time.monotonic()
        response = middleware(_get("/documents/"))
        waited = time.monotonic() - started
    finally:
        release.set()
        for thread in threads:
            thread.join()

    assert response.status_code == 503
    # Refused at once: queued behind it, /healthz would otherwise wait REQUEST_SLOT_WAIT too.
    assert waited < settings.REQUEST_SLOT_WAIT / 2


def test_slots_held_briefly_are_waited_for(settings):
    middleware, release, threads = held_slots(settings, slots=1)
    settings.REQUEST_SLOT_WAIT = 5
    settings.REQUEST_SLOT_STUCK = 60
    threading.Timer(0.2, release.set).start()
    try:
        response = middleware(_get("/documents/"))
    finally:
        release.set()
        for thread in threads:
            thread.join()

    assert response.status_code == 200


@pytest.mark.django_db
def test_database_unavailable_is_a_503_naming_it(logged_in, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError('connection to server at "db" failed: timeout expired')

    monkeypatch.setattr(Document.objects, "visible_to", unreachable)

    response = logged_in.get("/api/documents/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "error": "Dependency 'database' is unavailable (unreachable or timed out); "
        "retry after 5 s.",
        "dependency": "database",
    }


@pytest.mark.django_db
def test_other_database_errors_stay_500s(logged_in, monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug, not an outage")

    monkeypatch.setattr(Document.objects, "visible_to", bug)
    logged_in.raise_request_exception = False

    assert logged_in.get("/api/documents/").status_code == 500


@pytest.mark.django_db
def test_upload_with_s3_unreachable_is_a_503_naming_it_and_records_nothing(
    logged_in, settings, monkeypatch, closed_port
):
    """How long it may take is the clients' configuration (connect timeout, attempts), which
    test_settings reads back; a wall-clock bound here was broken by a loaded machine alone."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{closed_port}"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "config.storage.DocumentStorage",
            "OPTIONS": {"bucket_name": "documents", "endpoint_url": settings.AWS_ENDPOINT_URL},
        },
    }
    upload = SimpleUploadedFile("notes.txt", b"hello\n", content_type="text/plain")

    response = logged_in.post("/api/documents/", {"file": upload})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["dependency"] == "s3"
    assert Document.objects.count() == 0
