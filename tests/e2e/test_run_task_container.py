"""`hangar run-task --stage local`: the web task definition, resolved from the stage deployed in
this run's LocalStack, served by the runtime image on the compose network.

Brings up the run's own compose `db` and `localstack`, deploys the local stage into that
LocalStack, runs the migration task and then the web task, and removes both containers after.
"""

import json
import subprocess
import time
from collections.abc import Iterator

import pytest
from compose_project import Compose, http

from hangar import infra, ports, run_task
from hangar.paths import LOCAL_ENV_FILE

pytestmark = pytest.mark.e2e

# What an ALB health check sends: the task's private IP as Host, never an allowed host.
PRIVATE_IP_HOST = "10.0.1.23"


@pytest.fixture(scope="module")
def deployed_stage(compose: Compose) -> Iterator[dict[str, str]]:
    """db and LocalStack healthy, the local stage deployed into them; the developer's
    .hangar/local.env and outputs file (which deploy_local rewrites) restored afterwards."""
    saved = {
        path: path.read_bytes() for path in (LOCAL_ENV_FILE, infra.OUTPUTS_FILE) if path.exists()
    }
    started = time.monotonic()
    compose.run("up", "--detach", "--wait", "db", "localstack", timeout=600)
    print(f"\ndb + localstack healthy in {time.monotonic() - started:.1f}s")
    try:
        yield infra.deploy_local(f"http://127.0.0.1:{compose.ports['LOCALSTACK_PORT']}")
    finally:
        for path in (LOCAL_ENV_FILE, infra.OUTPUTS_FILE):
            if path in saved:
                path.write_bytes(saved[path])
            else:
                path.unlink(missing_ok=True)


def remove_container(name: str) -> None:
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


@pytest.fixture(scope="module")
def migrated(compose: Compose, deployed_stage: dict[str, str]) -> None:
    """The migration task, as the deploy runs it before the service: in the foreground."""
    options = run_task.Options(stage="local", task="migration", compose_project=compose.project)
    try:
        assert run_task.run(options) == 0
    finally:
        remove_container(run_task.container_name(compose.project, "migration"))


@pytest.fixture(scope="module")
def web_task(compose: Compose, migrated: None) -> Iterator[run_task.RunningTask]:
    options = run_task.Options(
        stage="local",
        task="web",
        compose_project=compose.project,
        port=ports.spare_port(),
        detach=True,
    )
    started = time.monotonic()
    try:
        running = run_task.run(options)
        assert isinstance(running, run_task.RunningTask)
        print(f"run-task web healthy in {time.monotonic() - started:.1f}s")
        yield running
    finally:
        remove_container(run_task.container_name(compose.project, "web"))


def inspect(container: str, template: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "--format", template, container],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_healthz_answers_an_alb_health_check_by_private_ip(web_task: run_task.RunningTask) -> None:
    assert web_task.url is not None
    assert http(f"{web_task.url}/healthz", headers={"Host": PRIVATE_IP_HOST}) == (200, b"ok")


def test_readyz_reaches_the_database_s3_and_sqs(
    web_task: run_task.RunningTask, deployed_stage: dict[str, str]
) -> None:
    assert web_task.url is not None
    status, body = http(f"{web_task.url}/readyz", headers={"Host": "localhost"})
    checks = json.loads(body)["checks"]
    assert status == 200, checks
    assert {name: check["ok"] for name, check in checks.items()} == {
        "database": True,
        "s3": True,
        "sqs": True,
    }
    # The values came from the deployed stack, not from a copy.
    assert checks["s3"]["bucket"] == deployed_stage["DOCUMENTS_BUCKET"]
    assert checks["sqs"]["queue_url"] == deployed_stage["TASKS_QUEUE_URL"]


def test_the_container_runs_production_settings_non_root_on_loopback(
    web_task: run_task.RunningTask, compose: Compose
) -> None:
    env = inspect(web_task.container, "{{json .Config.Env}}")
    assert "DJANGO_ENV=production" in env
    assert inspect(web_task.container, "{{.Config.User}}") == "10001:10001"
    # No health check in the task definition: ECS ignores the image's HEALTHCHECK, so does this.
    assert inspect(web_task.container, "{{json .State.Health}}") == "null"
    bindings = json.loads(inspect(web_task.container, "{{json .HostConfig.PortBindings}}"))
    assert [b["HostIp"] for b in bindings["8000/tcp"]] == ["127.0.0.1"]
    networks = json.loads(inspect(web_task.container, "{{json .NetworkSettings.Networks}}"))
    assert list(networks) == [f"{compose.project}_default"]
