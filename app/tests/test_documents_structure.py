"""Uploads whose bytes hold more than their declared type (polyglots), and names that cannot
name a file everywhere, are refused with a 400 that says why; nothing is stored."""

import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.tasks import default_task_backend
from django.urls import reverse

from documents.models import Document

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("logged_in")]

API = "/api/documents/"
# Longer than the first 1024 bytes, where the HTML check looks, as real documents and images are.
PDF = (
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"3 0 obj\n<< /Length 2048 >>\nstream\n" + b"\x9c" * 2048 + b"\nendstream\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\nstartxref\n9\n%%EOF\n"
)
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 2048
HTML = b"<html><body><script>fetch('/api/documents/')</script></body></html>\n"


def zip_archive(comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", HTML)
        archive.comment = comment
    return buffer.getvalue()


def post(client, content: bytes, content_type: str, name: str = "scan.pdf"):
    return client.post(API, {"file": SimpleUploadedFile(name, content, content_type)})


def assert_refused(response, reason: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert reason in error, error
    assert Document.objects.count() == 0
    assert default_storage.listdir("") == ([], [])
    # conftest.py's backend is Django's DummyBackend, which records what it was given.
    assert getattr(default_task_backend, "results") == []  # noqa: B009 - not in BaseTaskBackend's type


# --- polyglots -----------------------------------------------------------------------------------


def test_a_pdf_with_a_zip_appended_is_refused(client):
    response = post(client, PDF + zip_archive(), "application/pdf")

    assert_refused(response, "scan.pdf was not stored. A ZIP archive ends in its last 64 KiB")


def test_a_pdf_whose_first_bytes_hold_html_then_a_zip_is_refused(client):
    # The second polyglot; "%%EOF" in the archive's comment keeps the file's end PDF-like.
    content = b"%PDF-1.7\n" + HTML + zip_archive(comment=b"\n%%EOF\n") + PDF[9:]

    response = post(client, content, "application/pdf")

    assert_refused(response, "HTML markup (<html) in its first 1024 bytes")


@pytest.mark.parametrize("appended", [b"<script>alert(1)</script>", b"\x00\x01garbage"])
def test_anything_after_the_last_eof_of_a_pdf_is_refused(client, appended):
    response = post(client, PDF + appended, "application/pdf")

    # The PDF's own end of line, then what was appended.
    assert_refused(response, f"{1 + len(appended)} bytes follow the PDF's last %%EOF")


def test_a_pdf_without_an_eof_near_its_end_is_refused(client):
    response = post(client, b"%PDF-1.7\n" + b"x" * 2048, "application/pdf")

    assert_refused(response, "no %%EOF in its last")


def test_an_image_with_a_zip_appended_is_refused(client):
    response = post(client, PNG + zip_archive(), "image/png", "photo.png")

    assert_refused(response, "photo.png was not stored. A ZIP archive ends")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (PDF, "application/pdf"),
        (PDF.replace(b"%%EOF\n", b"%%EOF\r\n\x00 "), "application/pdf"),  # PDF whitespace after
        (PDF + PDF[9:], "application/pdf"),  # an incremental update: two %%EOF
        (PNG, "image/png"),
        (HTML, "text/plain"),  # text may be about HTML: it is text, not a page
    ],
)
def test_files_that_are_only_what_they_declare_are_accepted(client, content, content_type):
    assert post(client, content, content_type, "file").status_code == 201


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["CON", "con", "NUL.txt", "nul.tar.gz", "Com1.txt", "LPT9.csv", "aux .txt", "COM¹.txt"]
)
def test_names_windows_reserves_for_devices_are_refused(client, name):
    response = post(client, b"words\n", "text/plain", name)

    assert_refused(response, "is a device name Windows reserves")


@pytest.mark.parametrize("name", ["CONTRACT.txt", "console.txt", "COM10.txt", "nul_report.txt"])
def test_names_that_only_start_like_a_device_are_accepted(client, name):
    assert post(client, b"words\n", "text/plain", name).status_code == 201


@pytest.mark.parametrize("name", ["...", "   ", ". ."])
def test_names_of_only_dots_and_spaces_are_refused(client, name):
    assert_refused(post(client, b"words\n", "text/plain", name), "only dots and spaces")


@pytest.mark.parametrize("name", ["report.txt.", "report.txt ", "report. "])
def test_names_ending_in_a_dot_or_a_space_are_refused(client, name):
    assert_refused(post(client, b"words\n", "text/plain", name), "ends in a dot or a space")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("\u3164.txt", "U+3164"),  # Hangul filler
        ("report\u2800.txt", "U+2800"),  # braille pattern blank
        ("a\u115fb.txt", "U+115F"),  # Hangul choseong filler
        ("notes\ufe0f.txt", "U+FE0F"),  # variation selector
        ("x\u034f.txt", "U+034F"),  # combining grapheme joiner
    ],
)
def test_names_holding_invisible_characters_are_refused(client, name, shown):
    response = post(client, b"words\n", "text/plain", name)

    assert_refused(response, f"invisible characters ({shown})")


def test_the_form_shows_the_reason_too(client):
    response = client.post(
        reverse("documents:index"),
        {"file": SimpleUploadedFile("NUL.txt", b"words\n", "text/plain")},
    )

    assert response.status_code == 400
    assert "is a device name Windows reserves" in response.content.decode()
