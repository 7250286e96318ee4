"""AWS access for boto3 and the CLIs, on AWS or LocalStack; clients always time out (never hang)."""

import os
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from hangar.core.errors import HangarError
from hangar.core.stages import REGION

# The region the stacks are built for (hangar.core.stages).
DEFAULT_REGION = REGION
# Error codes AWS services use for a call the caller's policy does not allow.
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=60, retries={"max_attempts": 4, "mode": "standard"}
)


def aws_client(service: str, *, region: str, endpoint: str | None = None) -> Any:
    """A client for `service`; with `endpoint` it talks to LocalStack with its fake credentials."""
    session = boto3.session.Session(region_name=region)
    if endpoint is None:
        return session.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]
    return session.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - LocalStack's documented fake credentials
        config=CLIENT_CONFIG,
    )


def cli_environment(*, region: str, endpoint: str | None = None) -> dict[str, str]:
    """Environment for the CDK CLI: the caller's credentials, or LocalStack's gateway and fakes."""
    env = {**os.environ, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    if endpoint:
        # Without the S3 endpoint cdklocal uses localhost.localstack.cloud, which may not resolve.
        endpoint = by_address(endpoint)
        env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ENDPOINT_URL_S3=endpoint,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",  # noqa: S106 - LocalStack's documented fake credentials
        )
    return env


def caller_region(environ: Mapping[str, str], requested: str | None = None) -> str:
    """The stacks' region, refusing a caller who asks (AWS_REGION, --region) for another one:
    half a deploy in one region and half in another is worse than no deploy."""
    for source, value in (
        ("--region", requested),
        ("AWS_REGION", environ.get("AWS_REGION")),
        ("AWS_DEFAULT_REGION", environ.get("AWS_DEFAULT_REGION")),
    ):
        if value and value != DEFAULT_REGION:
            raise HangarError(
                f"{source} is {value}, but the stacks are built for {DEFAULT_REGION} "
                "(infra/cdk.json, context hangar:region).",
                hint=f"unset {source} or set it to {DEFAULT_REGION}; to move the stages to "
                f"{value}, change hangar:region in infra/cdk.json (and bootstrap that region)",
            )
    return DEFAULT_REGION


def by_address(endpoint: str) -> str:
    """The endpoint with its host name resolved to an IP address.

    The CDK CLI's S3 client addresses a bucket by path only at an IP address; at a host name (the
    dev container's `localstack`) it asks for <bucket>.<host>, which does not resolve.
    """
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return endpoint
    try:
        address = socket.gethostbyname(parts.hostname)
    except OSError:
        return endpoint  # the CLI then reports the unreachable endpoint itself
    return parts._replace(netloc=f"{address}:{parts.port}" if parts.port else address).geturl()
