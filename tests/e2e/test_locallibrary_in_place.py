"""A project written elsewhere adopts Hangar where it is: MDN's LocalLibrary (tests/fixtures/
locallibrary, its SOURCE.md says from where and which lines docs/adopting.md section 3 changed)
as the root of a git repository of its own, Hangar installed there from a wheel and `hangar init`
run in place (tests/e2e/adopter_repository.py). Nothing is moved.

In that repository, which holds no Hangar checkout: `hangar init` finds the project where it is
and changes none of its files; `make test` runs its own 40 tests beside the platform's checks on
it; `make lint` passes with the project as written and fails on code that cannot run;
`make docker-provision` builds the stand-ins from the package's recipes; `make deploy-local`
creates only what it declares (no worker, bucket or queue); `make run-task` serves its pages and
its hashed stylesheet from the runtime image; `make dev` serves them too, and a view added to its
URLconf after the start, from the same container.

A project made by `django-admin startproject`, upgraded from an earlier release, has its own
module (test_startproject_adopter.py): init's snippets and the platform's health checks there.
"""

import json
import re
import shutil
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from adopter_repository import (
    commit,
    compose_project_of,
    docker_inspect,
    free_port,
    get,
    install_hangar,
    own_ports,
    run,
    timed,
    uv,
    wait_for,
    wheel,
)
from local_library import FIXTURE, SETTINGS_MODULE, WSGI_APPLICATION

from hangar.core.aws_clients import aws_client
from hangar.core.contract import contract
from hangar.core.stages import REGION
from hangar.deploy.stacks import stack_template
from hangar.provision.audit import OFFLINE_VARIABLE
from hangar_infra.synthesis import VARIANTS

pytestmark = pytest.mark.e2e

SERVICE = "library"
# What an ALB health check sends: the task's private IP as Host, never an allowed host.
PRIVATE_IP_HOST = "10.0.1.23"
HOME_TITLE = "<h1>Local Library Home</h1>"
# The platform's checks on any project (hangar.testing.checks): its stages' cdk-nag and cfn-lint
# checks, one per stage variant, and its health and readiness paths.
PLATFORM_CHECKS = re.compile(r"^PASSED \S*hangar/testing/checks/\S+", re.M)
OWN_TESTS = re.compile(r"^PASSED catalog/tests/\S+", re.M)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LocalLibrary's files at the root of a repository, committed as written; then Hangar
    installed (its dependencies, which its requirements.txt lists for pip, added with uv) and
    `hangar init`, each committed."""
    base = tmp_path_factory.mktemp("locallibrary")
    repo = base / SERVICE
    shutil.copytree(FIXTURE, repo, ignore=shutil.ignore_patterns("SOURCE.md", "__pycache__"))
    run("git", "init", "--quiet", cwd=repo)
    commit(repo, "LocalLibrary as written")
    # Its settings read the database with django-environ (SOURCE.md), psycopg for PostgreSQL.
    dependencies = ("django", "whitenoise", "gunicorn", "psycopg[binary]", "django-environ")
    install_hangar(repo, wheel(base / "dist"), *dependencies)
    commit(repo, "its dependencies, and Hangar's")
    init = run(uv(), "run", "--frozen", "hangar", "init", cwd=repo)
    print(init.stdout)
    commit(repo, "hangar init")
    return repo


def test_init_finds_the_project_where_it_is_and_changes_none_of_its_files(library: Path) -> None:
    changed = run("git", "diff", "--name-status", "HEAD~1", "HEAD", cwd=library).stdout
    modified = [line.split("\t")[1] for line in changed.splitlines() if line.startswith("M")]
    assert modified == ["pyproject.toml"], changed
    assert "\tMakefile\n" in changed
    named = tomllib.loads((library / "pyproject.toml").read_text())["tool"]["hangar"]
    assert (named["project-dir"], named["settings-module"], named["wsgi-application"]) == (
        ".",
        SETTINGS_MODULE,
        WSGI_APPLICATION,
    )


def test_make_test_runs_its_own_tests_and_the_platform_checks(library: Path) -> None:
    # Its README's step before its tests: its templates go through the manifest storage.
    run(uv(), "run", "--frozen", "python", "manage.py", "collectstatic", "--noinput", cwd=library)
    began = time.monotonic()
    # -rA: every passed test by its id (with the logs Django writes for its 403s and 404s).
    tested = run("make", "test", cwd=library, check=False, extra={"PYTEST_ADDOPTS": "-rA"})
    print(f"make test: {time.monotonic() - began:.1f}s")
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output[-8000:]
    assert len(OWN_TESTS.findall(output)) == 40, output[-5000:]
    # Two checks per stage variant (cdk-nag, cfn-lint), and the health and readiness checks.
    assert len(PLATFORM_CHECKS.findall(output)) == 2 * len(VARIANTS) + 2, output[-5000:]
    assert not re.search(r"\d+ (failed|skipped|xfailed|deselected|error)", output), output


def test_make_lint_passes_with_the_project_as_written(library: Path) -> None:
    """Hangar's rules on Hangar's files; the project, which keeps no ruff or mypy configuration,
    only for code that cannot run; its migrations match its models."""
    # This machine reaches PyPI's and npm's downloads but neither advisory service (as .ci/run's
    # machines): the audit says so in its NOT RUN line instead of failing.
    output = timed("make lint", "make", "lint", cwd=library, extra={OFFLINE_VARIABLE: "warn"})
    for passed in (
        "the thin files are hangar",
        "<== ruff: Hangar's code, Hangar's rules: done",
        "<== ruff: ./ has no ruff configuration: syntax errors and undefined names: done",
        "<== mypy: Hangar's code: done",
        "No changes detected",
        "<== check-jsonschema: workflows and dependabot.yml against GitHub's schemas: done",
        "<== zizmor (offline): template injection, permissions, pinning, credentials: done",
        "<== actionlint: expressions, job graph, action inputs: done",
        "no [tool.importlinter]: no layers to check here",
    ):
        assert passed in output, f"{passed!r} not in:\n{output}"
    assert "mypy: ./, its own configuration" not in output


def test_make_lint_fails_on_code_that_cannot_run_and_names_it(library: Path) -> None:
    """The same `make lint` is no rubber stamp: an undefined name in the project fails it."""
    broken = library / "catalog" / "broken.py"
    broken.write_text("def view(request):\n    return undefined_name\n")
    try:
        lint = run("make", "lint", cwd=library, check=False, extra={OFFLINE_VARIABLE: "warn"})
    finally:
        broken.unlink()
    output = lint.stdout + lint.stderr
    assert lint.returncode != 0
    assert "F821" in output, output
    assert "catalog/broken.py" in output, output


@pytest.fixture(scope="module")
def ports() -> dict[str, str]:
    return own_ports()


@pytest.fixture(scope="module")
def compose_project(library: Path, ports: dict[str, str]) -> Iterator[str]:
    with compose_project_of(library, SERVICE, ports) as project:
        yield project


@pytest.fixture(scope="module")
def deployed(library: Path, compose_project: str, ports: dict[str, str]) -> str:
    """Its `local` stage deployed into a LocalStack of its own; the compose project's name.
    `make docker-provision` reads the package's files (the stand-ins' recipes, LocalStack's
    lock), never a Hangar checkout's."""
    timed("make docker-provision", "make", "docker-provision", cwd=library, extra=ports)
    provisioned = (library / ".hangar" / "compose.env").read_text()
    assert "DEPS_SOURCE=" in provisioned, provisioned
    for target in ("localstack-up", "deploy-local"):
        timed(f"make {target}", "make", target, cwd=library, extra=ports)
    return compose_project


def test_deploy_local_creates_only_what_it_declares(
    library: Path, deployed: str, ports: dict[str, str]
) -> None:
    endpoint = f"http://127.0.0.1:{ports['HANGAR_LOCALSTACK_PORT']}"
    cloudformation = aws_client("cloudformation", region=REGION, endpoint=endpoint)
    # Its LocalStack holds the stage's two stacks, complete, beside the bootstrap's toolkit.
    statuses = {
        stack["StackName"]: stack["StackStatus"]
        for stack in cloudformation.describe_stacks()["Stacks"]
        if not stack["StackName"].startswith("CDKToolkit")
    }
    assert statuses == {
        f"{SERVICE}-local-registry": "CREATE_COMPLETE",
        f"{SERVICE}-local-service": "CREATE_COMPLETE",
    }
    service = stack_template(library / "cdk.out" / "local", f"{SERVICE}-local-service")
    template, resources = json.dumps(service), service["Resources"]
    task_definitions = [r for r in resources.values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert len(task_definitions) == 2, "web and migration only: the project declares no worker"
    assert not [logical_id for logical_id in resources if "Worker" in logical_id]
    # It declares no bucket or queue: the access-log bucket is the platform's own.
    assert not [r for r in resources.values() if r["Type"] == "AWS::SQS::Queue"]
    buckets = [i for i, r in resources.items() if r["Type"] == "AWS::S3::Bucket"]
    assert [i for i in buckets if not i.startswith("StorageAccessLogs")] == []
    assert '"hangar-' not in template
    lines = (library / ".hangar" / "local.env").read_text().splitlines()
    handed = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "AWS_REGION"} <= handed
    assert not set(contract().env_from_outputs) & handed  # what this checkout's project declares


def test_run_task_and_make_dev_serve_its_pages(
    library: Path, deployed: str, ports: dict[str, str]
) -> None:
    compose_project = deployed
    port = str(free_port())
    timed("make run-task", "make", "run-task", "DETACH=1", f"PORT={port}", cwd=library, extra=ports)
    base = f"http://127.0.0.1:{port}"
    # Its home page reads the database (counts of books, copies and authors).
    status, body = get(f"{base}/catalog/", host="localhost")
    assert (status, HOME_TITLE in body) == (200, True), body[-2000:]
    # Its stylesheet, by the hashed name collectstatic gave it in the image (whitenoise serves it).
    stylesheet = re.search(r'href="(/static/css/styles\.[0-9a-f]{12}\.css)"', body)
    assert stylesheet, body[-2000:]
    status, css = get(f"{base}{stylesheet[1]}", host="localhost")
    assert (status, ".sidebar-nav" in css) == (200, True)
    assert get(f"{base}/healthz", host=PRIVATE_IP_HOST) == (200, "ok")
    status, ready = get(f"{base}/readyz", host="localhost")
    assert (status, json.loads(ready)) == (200, {"database": "ok"})
    # A foreign Host reaches the project's own host validation past the health path.
    assert get(f"{base}/readyz", host=PRIVATE_IP_HOST)[0] == 400
    # The project is the repository's root, so the build context is: the image takes its files
    # but not the platform's state (.hangar/wheelhouse, hundreds of MB, is in the context).
    image = f"{compose_project}-runtime:local"
    listed = run("docker", "run", "--rm", "--entrypoint", "ls", image, "-A", cwd=library).stdout
    assert "manage.py" in listed.split(), listed
    assert ".hangar" not in listed.split(), listed
    run("docker", "rm", "--force", f"{compose_project}-run-task-web", cwd=library)

    # `make dev`: its pages, and a view added to its URLconf served by the same container.
    timed("make dev DETACH=1", "make", "dev", "DETACH=1", cwd=library, extra=ports)
    web = f"http://127.0.0.1:{ports['HANGAR_WEB_PORT']}"
    wait_for(f"{web}/catalog/", HOME_TITLE, deadline=60)
    container = f"{compose_project}-web-1"
    started = docker_inspect(container, "{{.Id}} {{.State.StartedAt}}")
    marker = uuid.uuid4().hex
    urls = library / "locallibrary" / "urls.py"
    edited = urls.with_suffix(".tmp")  # saved as an editor does: replaced in one step
    edited.write_text(
        urls.read_text() + "\nfrom django.http import HttpResponse\n\n"
        f"urlpatterns += [path('reloaded/', lambda request: HttpResponse('{marker}'))]\n"
    )
    edited.replace(urls)
    print(f"the edited URLconf served after {wait_for(f'{web}/reloaded/', marker, 60):.1f}s")
    assert docker_inspect(container, "{{.Id}} {{.State.StartedAt}}") == started
