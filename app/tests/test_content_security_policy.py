"""Every HTML page carries a Content-Security-Policy, and needs nothing that policy blocks."""

import re

import pytest
from django.urls import reverse

from documents.models import Document

pytestmark = pytest.mark.django_db

# Inline code a policy without 'unsafe-inline' blocks: <style> blocks, style="" attributes,
# <script> blocks with no src, and on*="" handlers.
INLINE = re.compile(r"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son[a-z]+=", re.IGNORECASE)


@pytest.fixture
def document(admin_user) -> Document:
    return Document.objects.create(
        original_name="report.pdf",
        content_type="application/pdf",
        storage_key="documents/x/report.pdf",
        size=10,
        uploaded_by=admin_user,
    )


def admin_pages(document: Document) -> list[str]:
    return [
        reverse("admin:index"),
        reverse("admin:documents_document_changelist"),
        reverse("admin:documents_document_change", args=[document.pk]),
        reverse("admin:accounts_user_add"),
    ]


def assert_protected(response) -> None:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    assert not INLINE.search(html), INLINE.search(html)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/nothing-here/"])
def test_pages_for_anonymous_visitors(client, path):
    assert_protected(client.get(path))


def test_the_documents_page_and_the_admin(admin_client, document):
    for path in [reverse("documents:index"), *admin_pages(document)]:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert_protected(response)


def test_the_pages_style_comes_from_a_static_file(client):
    html = client.get("/accounts/login/").content.decode()

    assert re.search(r'<link rel="stylesheet" href="/static/[^"]+\.css">', html)


def test_the_check_finds_inline_code():
    for html in (
        "<style>p{}</style>",
        '<p style="color: red">',
        "<script>alert(1)</script>",
        '<a onclick="x()">',
    ):
        assert INLINE.search(html), html
    assert not INLINE.search('<script src="/static/admin/js/theme.js"></script>')
