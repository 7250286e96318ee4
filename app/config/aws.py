"""boto3 clients configured from settings: region, endpoint (LocalStack when set) and timeouts.

Every AWS call in the app goes through here so none of them can hang a request or a worker:
botocore's defaults are a 60 s read timeout and several retries.
"""

from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings


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
    return boto3.session.Session().client(
        service_name,  # type: ignore[call-overload]
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL or None,
        config=client_config(
            connect_timeout=connect_timeout, read_timeout=read_timeout, max_attempts=max_attempts
        ),
    )
