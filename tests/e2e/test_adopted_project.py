"""Bring your own project: another Django project ships with nothing changed but `[tool.hangar]`.

A copy of this repository (its git-tracked files) gets tests/fixtures/minimal_project in place of
app/ — another project package, no documents app, no worker, its health at /ping on port 8081 —
and a rewritten `[tool.hangar]`. In that copy the hangar CLI synthesizes the `local` stage,
deploys it with deploy-local into a LocalStack of the copy's own compose project, and run-task
builds the runtime image (the one runtime build) and starts the web task, which must answer its
own health path by private-IP Host, as the load balancer asks it, and its readiness path.

The copy reuses this checkout's Python environment and node_modules (symlinks) and the offline
wheelhouse (hard links), so only what the contract changes is built again.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose_project import copy_checkout_files

from hangar.core import docker_client
from hangar.core.contract import PYPROJECT, contract
from hangar.core.paths import ROOT
from hangar.core.ports import spare_port

pytestmark = pytest.mark.e2e

FIXTURE = ROOT / "tests" / "fixtures" / "minimal_project"
SERVICE = "notes"
PROJECT_DIR = "site"
HEALTH_PATH = "/ping"
READINESS_PATH = "/ready"
PORT = 8081
# What an ALB health check sends: the task's private IP as Host, never an allowed host.
PRIVATE_IP_HOST = "10.0.1.23"


def get(url: str, host: str) -> tuple[int, bytes]:
    """Status and body, errors included; only ever this run's http://127.0.0.1 URLs."""
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def notes_contract() -> str:
    """`[tool.hangar]` for the fixture: only the app's side differs (no bucket, queue or worker)."""
    return f"""[tool.hangar]
service-name = "{SERVICE}"
image-platform = "{contract().image_platform}"
project-dir = "{PROJECT_DIR}"
settings-module = "notes.settings"
wsgi-application = "notes.wsgi:application"
health-path = "{HEALTH_PATH}"
readiness-path = "{READINESS_PATH}"
container-port = {PORT}

"""


def with_contract(pyproject: str, table: str) -> str:
    """The pyproject with `[tool.hangar]` and its sub-tables replaced by `table`."""
    pattern = re.compile(r"^\[tool\.hangar[].].*?(?=^\[(?!tool\.hangar[].])|\Z)", re.M | re.S)
    replaced, count = pattern.subn("", pyproject)
    assert count >= 1, "no [tool.hangar] in pyproject.toml"
    return replaced.rstrip("\n") + "\n\n" + table


def link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another filesystem
        shutil.copy2(source, destination)


@pytest.fixture(scope="module")
def adopted(provisioned: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The copy with the fixture project moved in and only the contract rewritten."""
    copy = tmp_path_factory.mktemp("adopted") / "repo"
    copy_checkout_files(copy, leave_out=contract().project_dir)
    # A repository of its own: run-task lists the image's inputs with git.
    subprocess.run(["git", "init", "--quiet", str(copy)], check=True)
    shutil.copytree(FIXTURE, copy / PROJECT_DIR)
    (copy / "pyproject.toml").write_text(with_contract(PYPROJECT.read_text(), notes_contract()))
    for environment in (".venv", "node_modules"):
        (copy / environment).symlink_to(ROOT / environment)
    state = copy / ".hangar"
    state.mkdir()
    if (ROOT / ".hangar" / "wheelhouse").is_dir():
        shutil.copytree(
            ROOT / ".hangar" / "wheelhouse", state / "wheelhouse", copy_function=link_or_copy
        )
    # Provision's choices for this machine (stand-in images, the dependency route), as the copy.
    compose_env = docker_client.COMPOSE_ENV_FILE.read_text().replace(str(ROOT), str(copy))
    (state / "compose.env").write_text(compose_env)
    return copy


def hangar(copy: Path, *args: str, env: dict[str, str], timeout: float = 900) -> str:
    """The copy's own CLI (its scripts/ first on the path), run in the copy."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "hangar.cli", *args],
        cwd=copy,
        env={**os.environ, **env, "PYTHONPATH": str(copy / "scripts")},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    print(f"hangar {' '.join(args)}: {time.monotonic() - started:.1f}s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"hangar {' '.join(args)} failed:\n{output[-5000:]}"
    return output


@pytest.fixture(scope="module")
def compose_project(adopted: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The copy's compose `db` and `localstack` on spare ports; its name and the CLI's env."""
    project = f"{SERVICE}-e2e-{uuid.uuid4().hex[:8]}"
    localstack_port = spare_port()
    env = {
        "COMPOSE_PROJECT_NAME": project,
        "LOCALSTACK_PORT": str(localstack_port),
        "LOCALSTACK_ENDPOINT": f"http://127.0.0.1:{localstack_port}",
        "WEB_PORT": str(spare_port()),
        "DEBUGPY_PORT": str(spare_port()),
        # run-task's database: the copy's compose `db`, not this machine's DATABASE_URL (CI's names
        # a server that listens on the host's loopback only, out of the container's reach).
        "DATABASE_URL": "",
    }
    compose = [
        *("docker", "compose", "--project-directory", str(adopted)),
        *("--file", str(adopted / "compose.yaml")),
        *("--env-file", str(adopted / ".hangar" / "compose.env"), "--project-name", project),
    ]
    started = time.monotonic()
    up = subprocess.run(
        [*compose, "up", "--detach", "--wait", "db", "localstack"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        assert up.returncode == 0, f"compose up failed:\n{up.stderr[-3000:]}"
        print(f"\ndb + localstack healthy in {time.monotonic() - started:.1f}s")
        yield project, env
    finally:
        subprocess.run(
            [*compose, "down", "--volumes"],  # compose.yaml's grace periods
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )


@pytest.fixture(scope="module")
def deployed(adopted: Path, compose_project: tuple[str, dict[str, str]]) -> dict[str, str]:
    """deploy-local into the copy's LocalStack; the .hangar/local.env it wrote."""
    _, env = compose_project
    hangar(adopted, "deploy-local", env=env)
    lines = (adopted / ".hangar" / "local.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def web_task(
    adopted: Path, compose_project: tuple[str, dict[str, str]], deployed: dict[str, str]
) -> Iterator[str]:
    """run-task's web task, detached; its base URL on this machine."""
    project, env = compose_project
    port = spare_port()
    try:
        hangar(
            adopted,
            "run-task",
            "--stage",
            "local",
            "--task",
            "web",
            "--port",
            str(port),
            "--compose-project",
            project,
            "--detach",
            env=env,
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(
            ["docker", "rm", "--force", f"{project}-run-task-web"], capture_output=True, check=False
        )
        subprocess.run(
            ["docker", "image", "rm", "--force", f"{project}-runtime:local"],
            capture_output=True,
            check=False,
        )


def synthesized_stacks(assembly: Path) -> dict[str, Path]:
    """Stack name → template file, from the cloud assembly and the stage's nested one."""
    stacks = {}
    for manifest in assembly.rglob("manifest.json"):
        for artifact in json.loads(manifest.read_text()).get("artifacts", {}).values():
            if artifact.get("type") == "aws:cloudformation:stack":
                properties = artifact["properties"]
                stacks[properties["stackName"]] = manifest.parent / properties["templateFile"]
    return stacks


def test_the_stage_is_named_after_the_service_and_has_no_worker(
    adopted: Path, deployed: dict[str, str]
) -> None:
    stacks = synthesized_stacks(adopted / "cdk.out" / "local")
    assert set(stacks) == {f"{SERVICE}-local-registry", f"{SERVICE}-local-service"}
    template = stacks[f"{SERVICE}-local-service"].read_text()
    resources = json.loads(template)["Resources"]
    task_definitions = [r for r in resources.values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert len(task_definitions) == 2, "web and migration only: the app declares no worker"
    assert not [logical_id for logical_id in resources if "Worker" in logical_id]
    # It declares no bucket or queue: the access-log bucket is the platform's own.
    assert not [r for r in resources.values() if r["Type"] == "AWS::SQS::Queue"]
    buckets = [i for i, r in resources.items() if r["Type"] == "AWS::S3::Bucket"]
    assert [i for i in buckets if not i.startswith("StorageAccessLogs")] == []
    containers = [r["Properties"]["ContainerDefinitions"][0] for r in task_definitions]
    assert [c["PortMappings"][0]["ContainerPort"] for c in containers if "PortMappings" in c] == [
        PORT
    ]
    assert '"hangar-' not in template


def test_deploy_local_hands_over_only_the_platform_keys(deployed: dict[str, str]) -> None:
    # The contract feeds no app setting from outputs: the sample's bucket and queues are absent.
    assert not {"DOCUMENTS_BUCKET", "TASKS_QUEUE_URL", "TASKS_DLQ_URL"} & set(deployed)
    assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "AWS_REGION"} <= set(deployed)


def test_run_task_serves_the_project_on_its_own_health_path(web_task: str) -> None:
    assert get(f"{web_task}{HEALTH_PATH}", PRIVATE_IP_HOST) == (200, b"pong")
    status, body = get(f"{web_task}{READINESS_PATH}", "localhost")
    assert (status, json.loads(body)) == (200, {"database": "ok"})
    # Not the sample: its health path is not there, and a foreign Host is refused elsewhere.
    assert get(f"{web_task}/healthz", "localhost")[0] == 404
    assert get(f"{web_task}{READINESS_PATH}", PRIVATE_IP_HOST)[0] == 400
