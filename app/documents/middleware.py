"""Refuse oversized request bodies from Content-Length alone, before anything reads them.

It sits before CsrfViewMiddleware on purpose: the CSRF check reads request.POST, which parses
(and spools to disk) the whole multipart body before any view could look at the file size. It also
runs before authentication, so its answer is the limit alone: no page, no data.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from config.errors import refusal
from documents import uploads

# Room for the multipart framing and the form's other fields around a file at the limit;
# a file between the limit and this allowance is caught by the view once parsed.
MULTIPART_ALLOWANCE = 64 * 1024


class UploadSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= settings.UPLOAD_MAX_BYTES + MULTIPART_ALLOWANCE:
            return self.get_response(request)
        return refusal(request, 413, uploads.too_large_message())
