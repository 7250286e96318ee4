"""A repository made by `django-admin startproject` that installs Hangar from a wheel and ran
`hangar init` (tests/e2e/adopter_repository.py): its stack, from a repository that holds no Hangar
checkout. `make docker-provision` (what a machine without registry access runs: the stand-in
images from the package's recipes, the wheelhouse with the package's wheel and LocalStack's lock),
`make localstack-up`, `make deploy-local`, `make run-task` (the health path answers a private-IP
Host, as an ALB's health check sends), `make dev` with an edited view served by the same
container, then `make down`. Everything the module started is removed after (its compose
project's containers, volumes, network and images); the stand-in images are the machine's.

test_startproject_adopter.py runs `make lint` and `make test` there beside this module.
Each step prints its seconds (`pytest -s` shows them).
"""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from adopter_repository import (
    SITE,
    compose_project_of,
    docker_ids,
    docker_inspect,
    free_port,
    get,
    insert_after,
    make_adopter,
    own_ports,
    timed,
    wait_for,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def adopter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_adopter(tmp_path_factory.mktemp("startproject"))


@pytest.fixture(scope="module")
def ports() -> dict[str, str]:
    return own_ports()


@pytest.fixture(scope="module")
def compose_project(adopter: Path, ports: dict[str, str]) -> Iterator[str]:
    with compose_project_of(adopter, SITE, ports) as project:
        yield project


def test_the_stack_deploys_runs_its_task_and_reloads_an_edited_view(
    adopter: Path, compose_project: str, ports: dict[str, str]
) -> None:
    """make docker-provision, localstack-up, deploy-local, run-task, dev (DETACH=1), an edited
    view, down: the commands read the package's files (LocalStack's lock, the stand-ins'
    recipes), never a Hangar checkout's."""
    timed("make docker-provision", "make", "docker-provision", cwd=adopter, extra=ports)
    provisioned = (adopter / ".hangar" / "compose.env").read_text()
    assert "DEPS_SOURCE=" in provisioned, provisioned
    timed("make localstack-up", "make", "localstack-up", cwd=adopter, extra=ports)
    timed("make deploy-local", "make", "deploy-local", cwd=adopter, extra=ports)
    local_env = (adopter / ".hangar" / "local.env").read_text()
    assert "DJANGO_SECRET_KEY=" in local_env
    assert stack_status(ports["HANGAR_LOCALSTACK_PORT"]).endswith("_COMPLETE")

    task_port = str(free_port())
    timed(
        "make run-task",
        "make",
        "run-task",
        "DETACH=1",
        f"PORT={task_port}",
        cwd=adopter,
        extra=ports,
    )
    # An ALB's health check asks by the task's private IP, which ALLOWED_HOSTS cannot list.
    assert get(f"http://127.0.0.1:{task_port}/healthz", host="10.0.1.23") == (200, "ok")
    status, body = get(f"http://127.0.0.1:{task_port}/readyz", host="localhost")
    assert (status, json.loads(body)) == (200, {"database": "ok"})
    assert get(f"http://127.0.0.1:{task_port}/readyz", host="10.0.1.23")[0] == 400
    subprocess.run(["docker", "rm", "--force", f"{compose_project}-run-task-web"], check=True)

    views = adopter / SITE / "views.py"
    views.write_text(
        "from django.http import HttpResponse\n\n\n"
        "def hello(request):\n    return HttpResponse('first version')\n"
    )
    urls = adopter / SITE / "urls.py"
    urls.write_text(f"from {SITE}.views import hello\n{urls.read_text()}")
    insert_after(urls, "urlpatterns = [\n", '    path("hello", hello),\n')
    timed("make dev DETACH=1", "make", "dev", "DETACH=1", cwd=adopter, extra=ports)
    web = f"http://127.0.0.1:{ports['HANGAR_WEB_PORT']}"
    assert get(f"{web}/healthz") == (200, "ok")
    container = f"{compose_project}-web-1"
    started = docker_inspect(container, "{{.Id}} {{.State.StartedAt}}")
    wait_for(f"{web}/hello", "first version", deadline=60)
    views.write_text(views.read_text().replace("first version", "edited version"))
    print(f"the edited view served after {wait_for(f'{web}/hello', 'edited version', 60):.1f}s")
    assert docker_inspect(container, "{{.Id}} {{.State.StartedAt}}") == started

    timed("make down", "make", "down", cwd=adopter, extra=ports)
    assert docker_ids("container", f"name=^{compose_project}-", "status=running") == []


def stack_status(localstack_port: str) -> str:
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=f"http://127.0.0.1:{localstack_port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stack = cloudformation.describe_stacks(StackName=f"{SITE}-local-service")["Stacks"][0]
    return str(stack["StackStatus"])
