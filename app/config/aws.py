"""boto3 clients configured from settings: region, endpoint (LocalStack when set) and timeouts,
each dependency behind its circuit breaker (config.circuit).

Every AWS call in the app goes through here so none of them can hang a request or a worker:
botocore's defaults are a 60 s read timeout and several retries. A dependency is a service at an
endpoint (S3 and SQS are two, also on one LocalStack); its breaker is shared by the clients and
threads of the process.
"""

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker
from django.conf import settings

from config.circuit import Breaker
from config.dependencies import DependencyUnavailable

# botocore's own judge of throttling error codes (its standard retry mode retries them).
_THROTTLED = ThrottledRetryableChecker()

_breakers: dict[tuple[str, str], Breaker] = {}
_breakers_lock = threading.Lock()


def client_config(
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
) -> Config:
    """botocore's Config from the settings; the keyword arguments override their timeouts."""
    return Config(
        connect_timeout=settings.AWS_CONNECT_TIMEOUT
        if connect_timeout is None
        else connect_timeout,
        read_timeout=settings.AWS_READ_TIMEOUT if read_timeout is None else read_timeout,
        retries={
            "max_attempts": settings.AWS_MAX_ATTEMPTS if max_attempts is None else max_attempts,
            "mode": "standard",
        },
        # A custom endpoint (LocalStack, a compose service name) has no wildcard DNS for
        # bucket subdomains, so address buckets by path there; AWS itself keeps virtual hosts.
        s3={"addressing_style": "path" if settings.AWS_ENDPOINT_URL else "auto"},
    )


def client(
    service_name: str,
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_attempts: int | None = None,
) -> Any:
    """A new client for `service_name`; the keyword arguments override the settings' timeouts."""
    # A session per client: boto3's default session is not safe to share between threads,
    # and readiness checks create clients concurrently.
    return guarded(boto3.session.Session()).client(
        service_name,  # type: ignore[call-overload]
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=client_config(
            connect_timeout=connect_timeout, read_timeout=read_timeout, max_attempts=max_attempts
        ),
    )


def guarded(session: boto3.session.Session) -> boto3.session.Session:
    """`session`, whose clients (and resources) put every attempt through its breaker."""
    session.events.register("before-send", _before_attempt)
    session.events.register("needs-retry", _after_attempt)
    return session


# --- what counts as the dependency being unavailable -------------------------------------------


def answered_unavailable(status: int, code: str | None) -> bool:
    """An answer that says "not now": a server error, or throttling."""
    throttled = RetryContext(attempt_number=1, parsed_response={"Error": {"Code": code}})
    return status >= 500 or status == 429 or _THROTTLED.is_retryable(throttled)


def is_outage(error: BaseException) -> bool:
    """The dependency did not answer, or answered "not now" (after botocore's own retries): an
    error that a later retry may not get, unlike a refusal (4xx) of the request itself."""
    if isinstance(error, DependencyUnavailable | BotocoreConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return answered_unavailable(status, error.response.get("Error", {}).get("Code"))
    return False


@contextmanager
def outage_as_unavailable(dependency: str) -> Iterator[None]:
    """An outage of `dependency` raised in the block becomes DependencyUnavailable (a 503 in a
    view, a wait in the worker); any other error stays what it is."""
    try:
        yield
    except DependencyUnavailable:
        raise
    except Exception as error:
        if is_outage(error):
            raise DependencyUnavailable(dependency, error) from error
        raise


# --- the breakers, fed by botocore's event hooks ------------------------------------------------


def breaker(dependency: str, url: str) -> Breaker:
    """The process's breaker for `dependency` (s3, sqs) at the endpoint `url` belongs to."""
    parts = urlsplit(url)
    key = (dependency, f"{parts.scheme}://{parts.netloc}")
    with _breakers_lock:
        if key not in _breakers:
            _breakers[key] = Breaker(
                dependency,
                failures_to_open=settings.AWS_BREAKER_FAILURES,
                open_seconds=settings.AWS_BREAKER_OPEN_SECONDS,
                probe=partial(answers, key[1], settings.AWS_BREAKER_PROBE_TIMEOUT),
            )
        return _breakers[key]


def answers(origin: str, timeout: float) -> bool:
    """Whether anything answers HTTP at `origin` within `timeout` (any status will do)."""
    try:
        urllib3.request("HEAD", origin, timeout=timeout, retries=False, redirect=False)
    except urllib3.exceptions.HTTPError:
        return False
    return True


def _dependency(event_name: str) -> str:
    """The dependency in a botocore event name: s3 in before-send.s3.PutObject."""
    return event_name.split(".")[1]


def _before_attempt(request: Any, event_name: str, **kwargs: Any) -> None:
    breaker(_dependency(event_name), request.url).before_attempt()


def _after_attempt(
    event_name: str,
    request_dict: Mapping[str, Any],
    response: tuple[Any, Mapping[str, Any]] | None = None,
    caught_exception: Exception | None = None,
    **kwargs: Any,
) -> None:
    """Record each attempt's outcome; None leaves the retry decision to botocore's handler."""
    if isinstance(caught_exception, DependencyUnavailable):
        return  # refused by the breaker itself: no attempt went out
    target = breaker(_dependency(event_name), request_dict["url"])
    if caught_exception is not None:
        if isinstance(caught_exception, BotocoreConnectionError | HTTPClientError):
            target.record(caught_exception)
    elif response is not None:
        http, parsed = response
        code = parsed.get("Error", {}).get("Code")
        if answered_unavailable(http.status_code, code):
            target.record(RuntimeError(f"HTTP {http.status_code} {code or ''}".strip()))
        else:
            target.record(None)
