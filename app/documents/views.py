from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from documents import uploads
from documents.access import page_login_required
from documents.models import Document

# Small pages keep the list fast under load: rendering is what a list page spends its time on.
PAGE_SIZE = 25


@page_login_required
@require_http_methods(["GET", "HEAD", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            document = uploads.accept(request.FILES.get("file"), request.user)
        except uploads.UploadRejected as rejected:
            return page(request, error=rejected.message, status=rejected.status)
        messages.success(request, f"Uploaded {document.original_name}; processing has been queued.")
        # Post/redirect/get: a browser refresh must not upload the file again.
        return redirect("documents:index")
    return page(request)


def page(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "page": Paginator(Document.objects.visible_to(request.user), PAGE_SIZE).get_page(
            request.GET.get("page")
        ),
        "error": error,
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "allowed_types": settings.UPLOAD_ALLOWED_TYPES,
    }
    return render(request, "documents/index.html", context, status=status)
