import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from documents.models import Document

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("logged_in")]


def upload(content_type="text/plain", content=b"hello\n"):
    return SimpleUploadedFile("notes.txt", content, content_type=content_type)


def test_root_redirects_to_the_documents_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("documents:index")


def test_page_lists_documents_with_their_state(client, member):
    Document.objects.create(
        original_name="report.pdf",
        content_type="application/pdf",
        storage_key="documents/x/report.pdf",
        size=10,
        status=Document.Status.FAILED,
        error="boom",
        uploaded_by=member,
    )

    response = client.get(reverse("documents:index"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "report.pdf" in html
    assert 'class="status-failed"' in html
    assert "<small>boom</small>" in html


def test_page_shows_the_newest_documents_a_page_at_a_time(client, member):
    from documents.views import PAGE_SIZE

    for number in range(PAGE_SIZE + 1):
        Document.objects.create(
            original_name=f"doc-{number:03}.txt",
            content_type="text/plain",
            storage_key=f"documents/{number}/doc.txt",
            size=1,
            uploaded_by=member,
        )

    first = client.get(reverse("documents:index")).content.decode()
    second = client.get(reverse("documents:index"), {"page": 2}).content.decode()

    assert first.count("<td>doc-") == PAGE_SIZE
    assert "doc-000.txt" not in first
    assert "doc-000.txt" in second
    assert f"doc-{PAGE_SIZE:03}.txt" in first
    assert "page 1 of 2" in first
    assert 'href="?page=2"' in first


def test_form_upload_with_csrf_token_stores_and_redirects(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    page = client.get(reverse("documents:index"))
    token = page.cookies["csrftoken"].value

    response = client.post(
        reverse("documents:index"), {"file": upload(), "csrfmiddlewaretoken": token}, follow=True
    )

    assert response.redirect_chain == [(reverse("documents:index"), 302)]
    document = Document.objects.get()
    assert default_storage.exists(document.storage_key)
    assert "Uploaded notes.txt; processing has been queued." in response.content.decode()


def test_form_post_without_csrf_token_is_403_and_writes_nothing(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)

    response = client.post(reverse("documents:index"), {"file": upload()})

    assert response.status_code == 403
    assert Document.objects.count() == 0
    assert default_storage.listdir("") == ([], [])


def test_form_rejection_shows_the_reason_with_its_status(client):
    response = client.post(reverse("documents:index"), {"file": upload(content_type="text/html")})

    assert response.status_code == 415
    assert "&#x27;text/html&#x27; is not accepted" in response.content.decode()
    assert Document.objects.count() == 0
    assert default_storage.listdir("") == ([], [])


def test_oversized_form_post_is_a_413_naming_the_limit(client, settings):
    settings.UPLOAD_MAX_BYTES = 10

    response = client.post(reverse("documents:index"), {"file": upload(content=b"x" * 100_000)})

    assert response.status_code == 413
    assert "the limit is 10 bytes" in response.content.decode()
    assert Document.objects.count() == 0


def test_admin_lists_documents(admin_client):
    Document.objects.create(
        original_name="in-admin.txt", content_type="text/plain", storage_key="k", size=1
    )

    response = admin_client.get(reverse("admin:documents_document_changelist"))

    assert response.status_code == 200
    assert "in-admin.txt" in response.content.decode()
