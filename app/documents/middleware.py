"""Refuse oversized request bodies from Content-Length alone, before anything reads them.

It sits before config.request_body, which reads every body in full before the request goes on.
It also runs before authentication, so its answer is the limit alone: no page, no data.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from config.errors import refusal
from config.request_body import content_length
from documents import uploads

# Room for the multipart framing and the form's other fields around a file at the limit;
# a file between the limit and this allowance is caught by the view once parsed.
MULTIPART_ALLOWANCE = 64 * 1024


class UploadSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if content_length(request) <= settings.UPLOAD_MAX_BYTES + MULTIPART_ALLOWANCE:
            return self.get_response(request)
        return refusal(request, 413, uploads.too_large_message())
