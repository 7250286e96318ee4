"""Error pages that answer API clients in JSON ({"error": ...}) and browsers in HTML."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """`message` alone, in JSON under /api/ and as plain text elsewhere: the answer of a middleware
    that refuses a request before authentication, which must show no page and no data."""
    if _is_api(request):
        return JsonResponse({"error": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"error": "Bad request (check the Host header and the request body)."}, status=400
        )
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": f"Nothing at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        error = "Internal server error; the X-Request-ID header identifies it in the logs."
        return JsonResponse({"error": error}, status=500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _is_api(request):
        error = (
            f"CSRF check failed ({reason}): a session-authenticated API call must send the "
            "csrftoken cookie's value in the X-CSRFToken header."
        )
        return JsonResponse({"error": error}, status=403)
    return csrf.csrf_failure(request, reason)
