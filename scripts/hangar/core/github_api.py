"""GitHub's REST API, as `hangar bootstrap-aws` uses it: a few JSON calls with the caller's token.

The API is at GITHUB_API_URL (what GitHub Actions sets; https://api.github.com by default), so a
GitHub Enterprise host, or a local server in the tests, serves it as well. The token comes from
GITHUB_TOKEN or GH_TOKEN (`export GITHUB_TOKEN=$(gh auth token)`).
"""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hangar.core.errors import HangarError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 30
CREDENTIALS_HINT = (
    "export GITHUB_TOKEN=$(gh auth token) (a token with admin rights on the repository), "
    "or see docs/deploy.md for doing without one"
)


class NotFound(HangarError):
    """The API answered 404: the repository, environment or setting does not exist (or the token
    may not see it)."""


@dataclass(frozen=True)
class GitHubApi:
    url: str
    token: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "GitHubApi | None":
        """The API the environment points at, or None without a token."""
        token = environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN")
        if not token:
            return None
        url = environ.get("GITHUB_API_URL") or DEFAULT_API_URL
        if urlsplit(url).scheme not in ("https", "http"):
            raise HangarError(f"GITHUB_API_URL {url!r} is not an http(s) URL")
        return cls(url.rstrip("/"), token)

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """The decoded JSON answer (None for 204); HangarError saying what failed otherwise."""
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": API_VERSION,
                "Content-Type": "application/json",
                "User-Agent": "hangar-bootstrap-aws",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise _api_error(method, path, error) from error
        except OSError as error:
            raise HangarError(
                f"GitHub's API at {self.url} cannot be reached: {error}",
                hint="check the network (or GITHUB_API_URL), then run it again",
            ) from error
        return json.loads(payload) if payload else None


def _api_error(method: str, path: str, error: urllib.error.HTTPError) -> HangarError:
    try:
        message = json.loads(error.read()).get("message", "")
    except (ValueError, AttributeError):
        message = ""
    what = f"GitHub's API refused {method} {path}: {error.code} {message}".rstrip()
    if error.code == 404:
        return NotFound(what, hint="check the repository name, and that the token may see it")
    if error.code in (401, 403):
        return HangarError(what, hint=f"the token lacks the rights: {CREDENTIALS_HINT}")
    return HangarError(what, hint="run it again; GitHub's status page says whether it is down")
