"""Who may use the documents pages and API: a logged-in user, unless UPLOADS_REQUIRE_LOGIN is off.

It is on in every deployed stage; only `make dev` turns it off, for a loopback-only dev server.
The setting is read per request so tests can switch it with override_settings.
"""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware

type View = Callable[..., HttpResponse]

LOGIN_HINT = "log in at /accounts/login/ and send the session cookie with the X-CSRFToken header."


def needs_login(request: HttpRequest) -> bool:
    return settings.UPLOADS_REQUIRE_LOGIN and not request.user.is_authenticated


def page_login_required(view: View) -> View:
    """login_required when the setting asks for it: anonymous users go to the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if needs_login(request):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def api_login_required(view: View) -> View:
    """403 with a JSON error for anonymous API calls; CSRF checked for session-authenticated ones.

    The view itself is csrf_exempt so anonymous calls work where login is off (`make dev`, curl);
    once a session cookie authenticates the request it is an ambient credential, so the CSRF check
    applies exactly as it does to the pages (the same rule as Django REST framework's).
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if needs_login(request):
            return JsonResponse({"error": f"Authentication required: {LOGIN_HINT}"}, status=403)
        if request.user.is_authenticated:
            check = CsrfViewMiddleware(lambda request: HttpResponse())
            check.process_request(request)
            rejected = check.process_view(request, view, args, kwargs)
            if rejected is not None:
                return rejected
        return view(request, *args, **kwargs)

    return wrapper
