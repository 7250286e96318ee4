"""Where LocalStack should answer, and whether it does."""

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hangar.core.errors import HangarError

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# LocalStack settings every mode runs with (compose.yaml repeats them for the container):
# CloudFormation deploys the types the free edition does not emulate (ECS, ELBv2, RDS) as
# placeholders instead of failing, which later releases only do when asked; queue URLs are
# path-style, so they resolve wherever the gateway does (no *.localstack.cloud DNS needed).
RUNTIME_SETTINGS = {"CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES": "1", "SQS_ENDPOINT_STRATEGY": "path"}


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str
    port: int

    @property
    def is_local(self) -> bool:
        """Only an endpoint on this machine is one Hangar can start LocalStack behind."""
        return self.host in LOCAL_HOSTS

    @property
    def bind_host(self) -> str:
        return "127.0.0.1" if self.host == "localhost" else self.host


def configured_endpoint(environ: Mapping[str, str] = os.environ) -> Endpoint:
    """Where every command finds LocalStack (the one place that works it out).

    LOCALSTACK_ENDPOINT wins; HANGAR_LOCALSTACK_PORT is the shorthand for a local port."""
    raw = environ.get("LOCALSTACK_ENDPOINT", "").strip()
    if raw:
        return parse_endpoint(raw, source="LOCALSTACK_ENDPOINT")
    port = environ.get("HANGAR_LOCALSTACK_PORT", "").strip()
    if port:
        return parse_endpoint(f"http://127.0.0.1:{port}", source="HANGAR_LOCALSTACK_PORT")
    return parse_endpoint(DEFAULT_ENDPOINT, source="the default endpoint")


def parse_endpoint(raw: str, source: str) -> Endpoint:
    hint = (
        "use a URL like http://127.0.0.1:4566 (LOCALSTACK_ENDPOINT) "
        "or a port like 4610 (HANGAR_LOCALSTACK_PORT)"
    )
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise HangarError(f"{source} is not a usable LocalStack endpoint: {raw!r}", hint)
    return Endpoint(url=f"http://{parts.netloc}", host=parts.hostname, port=port)


def _get_json(url: str, timeout: float) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http URL built by parse_endpoint
            body = json.load(response)
    except (OSError, http.client.HTTPException, ValueError):
        # Refused, reset, cut off, timed out, an HTTP error or a non-JSON body: not LocalStack.
        return None
    return body if isinstance(body, dict) else None


def health(endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """LocalStack's /_localstack/health document, or None when nothing LocalStack-like answers."""
    body = _get_json(f"{endpoint.rstrip('/')}/_localstack/health", timeout)
    return body if body is not None and "services" in body else None


def info(endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """/_localstack/info: version, uptime in seconds, edition."""
    return _get_json(f"{endpoint.rstrip('/')}/_localstack/info", timeout)


def is_healthy(endpoint: str, timeout: float = 2.0) -> bool:
    return health(endpoint, timeout) is not None


# How long a command gives a LocalStack that holds its port but is slow to answer: one finishing
# an interrupted deploy on a loaded 2-core machine missed a 2 s health check, then answered.
BUSY_SECONDS = 20.0


def refuses_connections(endpoint: str) -> bool:
    """Nothing listens at `endpoint`: no LocalStack to wait for."""
    parts = urlsplit(endpoint)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:  # a timeout, an unreachable host: something may be there, busy
        return False


def answers(endpoint: str, patience: float = BUSY_SECONDS) -> bool:
    """LocalStack answers at `endpoint`, given `patience` seconds when something holds the port
    but is slow to answer; a refused connection is an answer at once."""
    deadline = time.monotonic() + patience
    while not is_healthy(endpoint):
        if refuses_connections(endpoint) or time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
    return True


def require_localstack(endpoint: str) -> None:
    if not answers(endpoint):
        raise HangarError(
            f"LocalStack does not answer at {endpoint}.",
            hint="start it with `make localstack-up` (or set LOCALSTACK_ENDPOINT to where it runs)",
        )
