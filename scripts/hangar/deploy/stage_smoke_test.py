"""Step 5 of `hangar deploy`: the health and readiness paths ([tool.hangar]) through the load
balancer, retried while the new tasks come up.
"""

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from hangar.core import stage_interface
from hangar.core.console import info
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.deploy.stacks import LOCALSTACK_PLACEHOLDER
from hangar.deploy.stage_target import Skipped, Target, require_output

SMOKE_ATTEMPTS = 10
SMOKE_INTERVAL_SECONDS = 6.0
HTTP_TIMEOUT_SECONDS = 10.0


def smoke_test(
    target: Target,
    service_outputs: Mapping[str, str],
    *,
    attempts: int = SMOKE_ATTEMPTS,
    interval: float = SMOKE_INTERVAL_SECONDS,
) -> None:
    require_output(target, service_outputs, stage_interface.SERVICE_URL)
    service_url = service_outputs[stage_interface.SERVICE_URL]
    if target.local and urllib.parse.urlsplit(service_url).hostname == LOCALSTACK_PLACEHOLDER:
        # No load balancer stands behind it: a minute of retries would only find that out again.
        raise Skipped(
            f"the stack's ServiceUrl is {service_url}: LocalStack (free) does not emulate ELBv2"
        )
    app = contract()
    for path in (app.health_path, app.readiness_path):
        url = service_url.rstrip("/") + path
        problem = ""
        for attempt in range(1, attempts + 1):
            status, body = http_get(url)
            if status == 200:
                info(f"GET {url}: 200")
                break
            problem = f"{status or 'no answer'} {body[:300]}".strip()
            info(f"GET {url}: {problem} (attempt {attempt}/{attempts})")
            if attempt < attempts:
                time.sleep(interval)
        else:
            if target.local and status is None:
                raise Skipped(f"{url} does not answer: LocalStack (free) does not emulate ELBv2")
            raise HangarError(
                f"smoke test failed: GET {url} answered {problem}",
                hint=smoke_test_hint(service_outputs),
            )


def smoke_test_hint(service_outputs: Mapping[str, str]) -> str:
    hint = (
        f"{contract().readiness_path} names the dependency that is down; the ECS service events "
        "say more"
    )
    host = urllib.parse.urlsplit(service_outputs[stage_interface.SERVICE_URL]).hostname
    load_balancer = service_outputs.get(stage_interface.LOAD_BALANCER_DNS_NAME)
    if host and load_balancer and host != load_balancer.lower():
        # With HTTPS the URL is the stage's domain, which only DNS connects to the load balancer.
        hint += (
            f". {host} must resolve to the load balancer: create a CNAME (or alias) record "
            f"{host} → {load_balancer}, then deploy again"
        )
    return hint


def http_get(url: str) -> tuple[int | None, str]:
    if not url.startswith(("http://", "https://")):
        raise HangarError(f"the service URL {url!r} is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as error:
        return None, str(getattr(error, "reason", error))
