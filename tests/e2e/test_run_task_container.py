"""`hangar run-task --stage local`: the web task definition, resolved from the stage deployed in
this run's LocalStack, served by the runtime image on the compose network.

Brings up the run's own compose `db` and `localstack`, deploys the local stage into that
LocalStack and runs the web task (hangar.testing.run_tasks), whose containers it removes after.
The project's health and readiness paths come from its contract; what its endpoints answer
beyond that, and its workload on these tasks, are the project's own tests to check.
"""

import json
import time
import urllib.error

import pytest
from compose_project import http

from hangar.core.contract import contract
from hangar.deploy import run_task
from hangar.testing.containers import Compose
from hangar.testing.run_tasks import PRIVATE_IP_HOST, inspect

pytestmark = pytest.mark.e2e


def test_liveness_answers_an_alb_health_check_by_private_ip(
    web_task: run_task.RunningTask,
) -> None:
    assert web_task.url is not None
    status, _ = http(f"{web_task.url}{contract().health_path}", headers={"Host": PRIVATE_IP_HOST})
    assert status == 200


def readiness(url: str) -> tuple[int, bytes]:
    """The readiness path's status and body, a 503 included."""
    try:
        return http(f"{url}{contract().readiness_path}", headers={"Host": "localhost"})
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_readiness_answers_once_the_deployed_dependencies_do(
    web_task: run_task.RunningTask,
) -> None:
    assert web_task.url is not None
    # Ready within a minute, as a load balancer retries: a loaded machine once exceeded a
    # dependency check's timeout on the first call (503), while every dependency was up.
    deadline = time.monotonic() + 60
    while (answer := readiness(web_task.url))[0] != 200 and time.monotonic() < deadline:
        time.sleep(1)
    status, body = answer
    assert status == 200, body[-2000:]


def test_the_container_runs_production_settings_non_root_on_loopback(
    web_task: run_task.RunningTask, compose: Compose
) -> None:
    env = inspect(web_task.container, "{{json .Config.Env}}")
    assert "DJANGO_ENV=production" in env
    assert inspect(web_task.container, "{{.Config.User}}") == "10001:10001"
    # No health check in the task definition: ECS ignores the image's HEALTHCHECK, so does this.
    assert inspect(web_task.container, "{{json .State.Health}}") == "null"
    bindings = json.loads(inspect(web_task.container, "{{json .HostConfig.PortBindings}}"))
    assert [b["HostIp"] for b in bindings[f"{contract().container_port}/tcp"]] == ["127.0.0.1"]
    networks = json.loads(inspect(web_task.container, "{{json .NetworkSettings.Networks}}"))
    assert list(networks) == [f"{compose.project}_default"]
