"""`manage.py seed_bench` (`[tool.hangar.bench] seed-command`): its last line is a session cookie
that opens the member's documents page, full of their documents, and a second run adds no rows."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from documents.management.commands.seed_bench import DOCUMENTS
from documents.models import Document
from documents.views import PAGE_SIZE

pytestmark = pytest.mark.django_db


def seed() -> str:
    output = io.StringIO()
    call_command("seed_bench", stdout=output)
    return output.getvalue().strip().splitlines()[-1]


def test_the_cookie_opens_the_members_documents_page() -> None:
    name, value = seed().split("=", 1)
    client = Client()
    client.cookies[name] = value

    response = client.get(reverse("documents:index"))

    assert response.status_code == 200  # not the login page's redirect
    page = response.context["page"]
    assert page.paginator.count == DOCUMENTS
    assert len(page.object_list) == PAGE_SIZE


def test_seeding_twice_adds_no_rows() -> None:
    seed()
    seed()
    assert Document.objects.count() == DOCUMENTS
