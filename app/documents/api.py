"""JSON API: POST /api/documents/ (multipart, field "file"), GET list, GET one.

Authenticated by Django's session (log in at /accounts/login/) where UPLOADS_REQUIRE_LOGIN is on;
documents.access answers anonymous calls with a JSON 403 and applies the CSRF check to
session-authenticated ones.
"""

import json
import uuid

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from documents import uploads
from documents.access import api_login_required
from documents.models import Document
from documents.serialization import document_json

LIST_LIMIT = 100
MULTIPART_HINT = 'Upload documents as multipart/form-data with the file in a field named "file".'


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@api_login_required
@require_http_methods(["GET", "HEAD", "POST"])
def document_collection(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return _upload(request)
    documents = Document.objects.visible_to(request.user)[:LIST_LIMIT]
    return JsonResponse({"documents": [document_json(document) for document in documents]})


def _upload(request: HttpRequest) -> JsonResponse:
    if request.content_type == "application/json":
        # JSON clients get told what this endpoint wants, and exactly why their body was refused.
        try:
            json.loads(request.body)
        except ValueError as exc:
            return error(400, f"Malformed JSON body: {exc}. {MULTIPART_HINT}")
        except RecursionError:
            return error(400, f"Malformed JSON body: nested too deeply to parse. {MULTIPART_HINT}")
        return error(415, f"JSON bodies are not accepted here. {MULTIPART_HINT}")
    if request.content_type != "multipart/form-data":
        return error(
            415, f"Content-Type {request.content_type!r} is not accepted. {MULTIPART_HINT}"
        )
    try:
        document = uploads.accept(request.FILES.get("file"), request.user)
    except uploads.UploadRejected as rejected:
        return error(rejected.status, rejected.message)
    document.refresh_from_db()
    response = JsonResponse(document_json(document), status=201)
    response["Location"] = f"/api/documents/{document.id}/"
    return response


@api_login_required
@require_safe
def document_detail(request: HttpRequest, document_id: uuid.UUID) -> JsonResponse:
    try:
        document = Document.objects.visible_to(request.user).get(pk=document_id)
    except Document.DoesNotExist:  # or someone else's: the same answer, which tells nothing
        return error(404, f"No document with id {document_id}.")
    return JsonResponse(document_json(document))
