"""The address a request came from, for what counts per client (login throttling)."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """Behind the load balancer (where SECURE_PROXY_SSL_HEADER trusts its X-Forwarded-Proto) the
    last X-Forwarded-For entry, which the ALB appends; anything before it, the client may have
    written itself. Without one, nothing stands in front of the server: REMOTE_ADDR."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if settings.SECURE_PROXY_SSL_HEADER and forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return str(request.META.get("REMOTE_ADDR", ""))
