"""Liveness answered before anything else in the stack looks at the request.

An ALB health check connects to the task's private IP and sends that IP as the Host header.
ALLOWED_HOSTS cannot list it (it changes with every task), so if /healthz went through the
normal stack CommonMiddleware would answer 400 and ECS would keep replacing healthy tasks.
It also answers before SecurityMiddleware, whose HTTPS redirect would otherwise send the
plain-HTTP health check a 301. Only this exact path and method are answered here; every other
request goes through host validation as usual. Probes are deliberately not request-logged.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

HEALTHZ_PATH = "/healthz"


class HealthzMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info == HEALTHZ_PATH and request.method in ("GET", "HEAD"):
            response = HttpResponse("ok", content_type="text/plain; charset=utf-8")
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)
