"""The runtime image as ECS runs it: non-root, healthy by its own HEALTHCHECK, nothing from dev."""

import json
import subprocess
import time

import pytest
from compose_project import http

pytestmark = pytest.mark.e2e

SIZE_BUDGET_OVER_BASE = 80 * 1024 * 1024
# What the task definition gives the container, minus the AWS resources /healthz never touches.
TASK_ENV = {
    "DJANGO_SECRET_KEY": "e2e-not-a-secret",
    "DATABASE_URL": "sqlite:////tmp/e2e.sqlite3",
    "DJANGO_ALLOWED_HOSTS": "app.example.com",
}


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=120, check=check
    )


def inspect(reference: str, template: str) -> str:
    return docker("image", "inspect", "--format", template, reference).stdout.strip()


def test_runs_as_a_non_root_user(runtime_image: str) -> None:
    assert inspect(runtime_image, "{{.Config.User}}") == "10001:10001"
    uid = docker("run", "--rm", "--entrypoint=id", runtime_image, "-u").stdout.strip()
    assert uid == "10001"


@pytest.mark.parametrize("module", ["debugpy", "pytest", "watchfiles", "pip"])
def test_dev_tooling_is_absent(runtime_image: str, module: str) -> None:
    result = docker("run", "--rm", runtime_image, "python", "-c", f"import {module}", check=False)
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr


def test_no_compiler_in_the_image(runtime_image: str) -> None:
    found = docker(
        "run", "--rm", runtime_image, "sh", "-c", "command -v gcc cc make || true"
    ).stdout.strip()
    assert found == ""


def test_size_over_base_is_within_budget(runtime_image: str, provisioned: dict[str, str]) -> None:
    base = provisioned.get("PYTHON_IMAGE", "python:3.13-slim")
    runtime_size = int(inspect(runtime_image, "{{.Size}}"))
    over_base = runtime_size - int(inspect(base, "{{.Size}}"))
    print(f"\nruntime image: {runtime_size / 1e6:.1f} MB, {over_base / 1e6:.1f} MB over {base}")
    assert over_base <= SIZE_BUDGET_OVER_BASE, (
        f"the runtime image adds {over_base / 1e6:.1f} MB to {base}; the budget is "
        f"{SIZE_BUDGET_OVER_BASE / 1e6:.0f} MB. Check for dev dependencies or caches in the image."
    )


def test_healthcheck_passes_and_healthz_ignores_the_host_header(runtime_image: str) -> None:
    env_args = [arg for name, value in TASK_ENV.items() for arg in ("--env", f"{name}={value}")]
    container = docker(
        "run", "--detach", "--publish=127.0.0.1::8000", *env_args, runtime_image
    ).stdout.strip()
    try:
        address = docker("port", container, "8000/tcp").stdout.split()[0]
        deadline = time.monotonic() + 90
        status = ""
        while time.monotonic() < deadline:
            status = docker(
                "inspect", "--format", "{{.State.Health.Status}}", container
            ).stdout.strip()
            if status in {"healthy", "unhealthy"}:
                break
            time.sleep(1)
        logs = docker("logs", "--tail=40", container, check=False)
        assert status == "healthy", f"health status {status!r}; logs:\n{logs.stdout}{logs.stderr}"
        # A healthy start logs no error (gunicorn ≥ 25 used to: its control socket in a home
        # directory the non-root user cannot write).
        start_log = docker("logs", container, check=False)
        errors = [
            line
            for line in (start_log.stdout + start_log.stderr).splitlines()
            if "error" in line.lower()
        ]
        assert errors == [], "errors logged at start:\n" + "\n".join(errors)
        # An ALB health check arrives with the task's private IP as Host, never an allowed host.
        assert http(f"http://{address}/healthz", headers={"Host": "10.0.3.17"}) == (200, b"ok")
        health_log = json.loads(
            docker("inspect", "--format", "{{json .State.Health}}", container).stdout
        )
        assert health_log["Log"][-1]["ExitCode"] == 0

        # Any other request is logged once, as one JSON line (no second access-log line).
        static = f"http://{address}/static/admin/css/base.css"
        headers = {"Host": "app.example.com", "X-Forwarded-Proto": "https"}
        assert http(static, headers=headers)[0] == 200
        logs = docker("logs", container, check=False)
        lines = [
            line
            for line in (logs.stdout + logs.stderr).splitlines()
            if "/static/admin/css/base.css" in line
        ]
        assert len(lines) == 1, "one log line per request, found:\n" + "\n".join(lines)
        record = json.loads(lines[0])
        assert (record["path"], record["status"]) == ("/static/admin/css/base.css", 200)
    finally:
        docker("rm", "--force", "--volumes", container, check=False)
