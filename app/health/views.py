from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from health.checks import CheckResult, run_checks


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Which dependency is down, for anyone (the load balancer, the deploy's smoke test); what
    failed and how (bucket, queue URL, the error), for staff only."""
    checks = run_checks()
    ready = all(result["ok"] for result in checks.values())
    # Reading the session needs the database: when it is down, nobody is known to be staff.
    if not (checks["database"]["ok"] and request.user.is_staff):
        checks = {name: _status_only(result) for name, result in checks.items()}
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _status_only(result: CheckResult) -> CheckResult:
    return {"ok": result["ok"]}
