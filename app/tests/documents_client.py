"""A member's HTTP client of the running app (its login form, then the documents API), for the
sample's tests against the containers and the host-mode dev loop."""

import json
import time
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar
from typing import Any

import boto3


class Session:
    """A logged-in HTTP client: Django's login form, then its session cookie and CSRF token."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.opener.open(f"{base}/accounts/login/", timeout=30)  # sets the csrftoken cookie
        form = {"username": username, "password": password, "csrfmiddlewaretoken": self.csrf()}
        self.opener.open(
            f"{base}/accounts/login/", urllib.parse.urlencode(form).encode(), timeout=30
        )
        assert "sessionid" in {cookie.name for cookie in self.cookies}, "the login failed"

    def csrf(self) -> str:
        return next(cookie.value or "" for cookie in self.cookies if cookie.name == "csrftoken")

    def http(
        self, path: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(  # noqa: S310 - this run's http://127.0.0.1 URL
            f"{self.base}{path}", data=data, headers={"X-CSRFToken": self.csrf(), **(headers or {})}
        )
        with self.opener.open(request, timeout=30) as response:
            return response.status, response.read()


def upload_text(session: Session, name: str, body: bytes) -> dict[str, Any]:
    """POST `body` as a text/plain file to the documents API; the created document."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    )
    status, created = session.http(
        "/api/documents/",
        data=head.encode() + body + f"\r\n--{boundary}--\r\n".encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 201, created
    return dict(json.loads(created))


def until_handled(session: Session, document: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The document once the worker is done with it (or `timeout` has passed)."""
    deadline = time.monotonic() + timeout
    while document["status"] in {"pending", "processing"} and time.monotonic() < deadline:
        time.sleep(1)
        document = json.loads(session.http(f"/api/documents/{document['id']}/")[1])
    return document


def local_s3(port: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
