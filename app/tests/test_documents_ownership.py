"""Documents belong to their uploader: nobody else lists or reads them, except staff."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from documents.models import Document

pytestmark = pytest.mark.django_db

API = "/api/documents/"


@pytest.fixture
def other(django_user_model):
    return django_user_model.objects.create_user("other", password="other-password")


def document(owner, name: str) -> Document:
    return Document.objects.create(
        original_name=name,
        content_type="text/plain",
        storage_key=f"documents/{uuid.uuid4()}/{name}",
        size=1,
        uploaded_by=owner,
    )


def listed_ids(client) -> list[str]:
    return [item["id"] for item in client.get(API).json()["documents"]]


def test_a_member_lists_only_their_own_documents(logged_in, member, other):
    mine = document(member, "mine.txt")
    document(other, "theirs.txt")
    document(None, "anonymous.txt")

    assert listed_ids(logged_in) == [str(mine.id)]
    page = logged_in.get(reverse("documents:index")).content.decode()
    assert "mine.txt" in page
    assert "theirs.txt" not in page
    assert "anonymous.txt" not in page


def test_another_users_document_is_a_404_like_one_that_does_not_exist(logged_in, other):
    theirs = document(other, "theirs.txt")

    response = logged_in.get(f"{API}{theirs.id}/")

    assert response.status_code == 404
    assert response.json() == {"error": f"No document with id {theirs.id}."}


def test_an_upload_is_its_uploaders_alone(client, member, other):
    client.force_login(member)
    uploaded = client.post(
        API, {"file": SimpleUploadedFile("notes.txt", b"hello\n", content_type="text/plain")}
    ).json()

    client.force_login(other)

    assert listed_ids(client) == []
    assert client.get(f"{API}{uploaded['id']}/").status_code == 404


def test_staff_see_and_read_every_document(admin_client, member, other):
    documents = {document(member, "a.txt"), document(other, "b.txt"), document(None, "c.txt")}

    assert set(listed_ids(admin_client)) == {str(item.id) for item in documents}
    for item in documents:
        assert admin_client.get(f"{API}{item.id}/").status_code == 200
    page = admin_client.get(reverse("documents:index")).content.decode()
    assert all(name in page for name in ("a.txt", "b.txt", "c.txt"))


def test_without_required_login_anonymous_clients_share_only_the_anonymous_uploads(
    client, settings, member
):
    settings.UPLOADS_REQUIRE_LOGIN = False
    document(member, "members.txt")
    anonymous = document(None, "anonymous.txt")

    assert listed_ids(client) == [str(anonymous.id)]
    assert client.get(f"{API}{anonymous.id}/").status_code == 200
