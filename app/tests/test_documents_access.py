"""Who may upload: a logged-in user wherever UPLOADS_REQUIRE_LOGIN is on (its default)."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from documents.models import Document

pytestmark = pytest.mark.django_db

API = "/api/documents/"


def upload():
    return SimpleUploadedFile("notes.txt", b"hello\n", content_type="text/plain")


def test_login_is_required_unless_configured_otherwise(monkeypatch):
    # The settings module's default, i.e. every deployed stage; only `make dev` turns it off.
    monkeypatch.delenv("UPLOADS_REQUIRE_LOGIN", raising=False)
    read = "from django.conf import settings; print(settings.UPLOADS_REQUIRE_LOGIN)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {read}"],
        cwd=Path(django_settings.BASE_DIR),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_anonymous_page_visit_goes_to_the_login_page(client):
    response = client.get(reverse("documents:index"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/documents/"


def test_anonymous_form_upload_stores_nothing(client):
    response = client.post(reverse("documents:index"), {"file": upload()})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Document.objects.count() == 0
    assert default_storage.listdir("") == ([], [])


@pytest.mark.parametrize(("method", "path"), [("post", API), ("get", API), ("get", f"{API}x/")])
def test_anonymous_api_call_is_a_json_403(client, method, path):
    if path.endswith("x/"):
        document = Document.objects.create(
            original_name="a.txt", content_type="text/plain", storage_key="k", size=1
        )
        path = f"{API}{document.id}/"
    data = {"file": upload()} if method == "post" else None

    response = getattr(client, method)(path, data)

    assert response.status_code == 403
    assert response.json() == {
        "error": "Authentication required: log in at /accounts/login/ and send the session "
        "cookie with the X-CSRFToken header."
    }
    assert default_storage.listdir("") == ([], [])


def test_logging_in_through_the_login_page_opens_the_upload_page(member):
    client = Client(enforce_csrf_checks=True)
    login_page = client.get(reverse("login"), {"next": "/documents/"})
    token = login_page.cookies["csrftoken"].value

    response = client.post(
        reverse("login"),
        {
            "username": "member",
            "password": "member-password",
            "next": "/documents/",
            "csrfmiddlewaretoken": token,
        },
        follow=True,
    )

    assert response.redirect_chain == [("/documents/", 302)]
    assert "Signed in as member" in response.content.decode()


def test_wrong_password_says_so_and_logs_nobody_in(client, member):
    response = client.post(reverse("login"), {"username": "member", "password": "wrong"})

    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_session_api_upload_needs_the_csrf_token_and_records_the_uploader(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    refused = client.post(API, {"file": upload()})

    assert refused.status_code == 403
    assert "CSRF check failed" in refused.json()["error"]
    assert Document.objects.count() == 0

    token = client.get(reverse("documents:index")).cookies["csrftoken"].value
    accepted = client.post(API, {"file": upload()}, headers={"X-CSRFToken": token})

    assert accepted.status_code == 201
    assert Document.objects.get().uploaded_by == member


def test_csrf_failure_outside_the_api_keeps_django_page(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    response = client.post(reverse("logout"))

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_without_required_login_anonymous_uploads_work_without_csrf(settings):
    settings.UPLOADS_REQUIRE_LOGIN = False
    client = Client(enforce_csrf_checks=True)

    response = client.post(API, {"file": upload()})

    assert response.status_code == 201
    assert Document.objects.get().uploaded_by is None
    assert client.get(reverse("documents:index")).status_code == 200


@pytest.mark.parametrize("path", ["/documents/", API])
def test_an_oversized_request_shows_an_anonymous_client_nothing_but_the_limit(client, path):
    # The size check runs before authentication: its answer may hold no page and no data.
    Document.objects.create(
        original_name="payroll-2026.pdf",
        content_type="application/pdf",
        storage_key="documents/x/payroll-2026.pdf",
        size=1,
        error="secret detail",
    )

    response = client.get(path, CONTENT_LENGTH="10551297")

    assert response.status_code == 413
    body = response.content.decode()
    assert "payroll-2026.pdf" not in body
    assert "secret detail" not in body
    assert "the limit is" in body
