"""A new adopter from nothing (issue 25, item 4): `django-admin startproject`, `git init`, the
package installed from a wheel of this checkout (`uv add --dev`, from uv's cache: --offline), then
`hangar init`, its snippets pasted as a user would, and in that repository, which holds no Hangar
checkout:

- `make lint`: the thin files against the package's templates, ruff, mypy (on infra/app.py,
  through the package's py.typed), makemigrations --check, hadolint, the workflows' checks (the
  npm tools of the package.json `hangar init` wrote) and the audit;
- `make test` (and test-unit, test-infra): the platform's checks on the project, with the pytest
  configuration `hangar init` wrote: every stage synthesized for its contract against cdk-nag and
  cfn-lint, its health path by a private-IP Host and its readiness path;
- `make docker-provision` (what a machine without registry access runs: the stand-in images from
  the package's recipes, the wheelhouse with the package's wheel and LocalStack's lock),
  `make localstack-up`, `make deploy-local`, `make run-task` (the health path answers a private-IP
  Host, as an ALB's health check sends), `make dev` with an edited view served by the same
  container, then `make down`. Everything the module started is removed after (its compose
  project's containers, volumes, network and images); the stand-in images are the machine's.

Each step prints its seconds (`pytest -s` shows them).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from hangar.core.paths import PROJECT_UV, ROOT
from hangar.provision.audit import OFFLINE_VARIABLE

pytestmark = pytest.mark.e2e

SITE = "mysite"


def uv() -> str:
    return shutil.which("uv") or str(PROJECT_UV)


def env() -> dict[str, str]:
    tools = str(Path(uv()).parent)
    # The repository's own venv, never this checkout's (pytest runs in it).
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT")}
    return {**clean, "UV_PYTHON": sys.executable, "PATH": f"{tools}{os.pathsep}{clean['PATH']}"}


def run(
    *command: str | Path, cwd: Path, check: bool = True, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**env(), **(extra or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result


def wheel(out: Path) -> Path:
    run(uv(), "build", "--package", "hangar", "--wheel", "--quiet", "--out-dir", out, cwd=ROOT)
    return next(out.glob("hangar-*.whl"))


def paste_snippets(repo: Path, printed: str) -> None:
    """What a user does with init's output, block by block (a `# <where>:` line after a blank
    one): a new file written, the middleware first in MIDDLEWARE, the readiness route in the
    URLconf, the settings appended (a later assignment replaces the one startproject wrote)."""
    settings, urls = repo / SITE / "settings.py", repo / SITE / "urls.py"
    pasted = []
    for block in re.split(r"(?:\A|\n\n)# ", printed):
        header, _, body = block.partition("\n")
        body = body.strip()
        if match := re.fullmatch(r"new file (\S+):", header):
            (repo / match.group(1)).write_text(body + "\n")
        elif header == "first in the settings' MIDDLEWARE:":
            insert_after(settings, "MIDDLEWARE = [\n", f"    {body}\n")
        elif header == "in ROOT_URLCONF's module:":
            imports, _, route = body.partition("\n# and in its urlpatterns:\n")
            urls.write_text(f"{imports}\n{urls.read_text()}")
            insert_after(urls, "urlpatterns = [\n", f"    {route}\n")
        elif header.startswith(f"in {SITE}/settings.py:"):
            settings.write_text(f"{settings.read_text()}\n{body}\n")
        else:
            continue
        pasted.append(header)
    assert len(pasted) == 4, f"init printed other snippets than these: {pasted}\n{printed}"


def insert_after(path: Path, anchor: str, text: str) -> None:
    content = path.read_text()
    assert anchor in content, f"{path} has no {anchor!r}"
    path.write_text(content.replace(anchor, anchor + text, 1))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(step: str, *command: str, cwd: Path, extra: dict[str, str]) -> str:
    began = time.monotonic()
    result = run(*command, cwd=cwd, check=False, extra=extra)
    print(f"{step}: {time.monotonic() - began:.1f}s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{step} failed:\n{output}"
    assert "Traceback" not in output, output
    return output


def get(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(url: str, wanted: str, deadline: float) -> float:
    """Seconds until `url` answers 200 with `wanted` in its body (generous deadline: a loaded
    2-core machine); fails naming the last answer."""
    began = time.monotonic()
    last: object = None
    while time.monotonic() - began < deadline:
        try:
            last = get(url)
            if last[0] == 200 and wanted in last[1]:
                return time.monotonic() - began
        except OSError as error:
            last = error
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer {wanted!r} within {deadline:.0f}s: {last}")


@pytest.fixture(scope="module")
def adopter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("startproject")
    repo = base / SITE
    repo.mkdir()
    django_admin = Path(sys.executable).parent / "django-admin"
    run(django_admin, "startproject", SITE, ".", cwd=repo)
    run("git", "init", "--quiet", cwd=repo)
    run(uv(), "init", "--bare", "--quiet", "--python", "3.13", cwd=repo)
    # Bounded as the package's own: an open range makes uv resolve for Pythons its cache lacks.
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('">=3.13"', '">=3.13,<3.14"'), encoding="utf-8"
    )
    built = wheel(base / "dist")
    began = time.monotonic()
    # The runtime image serves with gunicorn; the stack's database is PostgreSQL (adopting.md).
    run(uv(), "add", "--offline", "--quiet", "django", "gunicorn", "psycopg[binary]", cwd=repo)
    run(
        uv(),
        "add",
        "--offline",
        "--quiet",
        "--dev",
        f"hangar[cdk,testing] @ {built.as_uri()}",
        cwd=repo,
    )
    print(f"install from the wheel: {time.monotonic() - began:.1f}s")
    identity = ("-c", "user.name=adopter", "-c", "user.email=adopter@example.com")
    run("git", *identity, "add", "--all", cwd=repo)
    run("git", *identity, "commit", "--quiet", "-m", "startproject", cwd=repo)
    init = run(uv(), "run", "--frozen", "hangar", "init", cwd=repo)
    assert (repo / "Makefile").is_file()
    assert "new file mysite/health.py:" in init.stdout
    paste_snippets(repo, init.stdout)
    assert (repo / SITE / "health.py").is_file()
    run("git", *identity, "add", "--all", cwd=repo)
    run("git", *identity, "commit", "--quiet", "-m", "hangar init", cwd=repo)
    return repo


def test_make_lint_passes(adopter: Path) -> None:
    began = time.monotonic()
    # This machine reaches PyPI's and npm's downloads but neither advisory service (as .ci/run's
    # machines): the audit says so in its NOT RUN line instead of failing.
    lint = run("make", "lint", cwd=adopter, check=False, extra={OFFLINE_VARIABLE: "warn"})
    print(f"make lint: {time.monotonic() - began:.1f}s")
    output = lint.stdout + lint.stderr
    assert lint.returncode == 0, output
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
    assert "Traceback" not in output


def test_make_lint_fails_on_code_that_cannot_run_and_names_it(adopter: Path) -> None:
    """The same `make lint` is no rubber stamp: an undefined name in the project fails it."""
    views = adopter / SITE / "broken.py"
    views.write_text("def view(request):\n    return undefined_name\n")
    try:
        lint = run("make", "lint", cwd=adopter, check=False, extra={OFFLINE_VARIABLE: "warn"})
    finally:
        views.unlink()
    output = lint.stdout + lint.stderr
    assert lint.returncode != 0
    assert "F821" in output, output
    assert "mysite/broken.py" in output, output


# What the platform's checks (hangar.testing.checks) run on the project: each stage's cdk-nag and
# cfn-lint checks, the health and readiness paths. The stages as hangar_infra.synthesis VARIANTS.
STAGE_CHECKS = ("test_stage_synthesizes_with_no_cdk_nag_finding", "test_cfn_lint_finds_no_error")
HEALTH_CHECKS = (
    "test_health_path_answers_the_private_ip_host",
    "test_readiness_path_answers_with_the_database_up",
)


def passed_checks(output: str) -> dict[str, set[str]]:
    """Check → the stages (or "" for one without) that -rA's summary lists as PASSED."""
    passed: dict[str, set[str]] = {}
    # Under --dist=loadgroup the id ends in the xdist group: "…[local]@cdk-assemblies]".
    for check, stage in re.findall(r"^PASSED \S*::(test_\w+)(?:\[([^\]@]+)\])?", output, re.M):
        passed.setdefault(check, set()).add(stage)
    return passed


def make_test_target(adopter: Path, target: str) -> str:
    began = time.monotonic()
    # -rA: every passed test in the summary, by its id.
    tested = run("make", target, cwd=adopter, check=False, extra={"PYTEST_ADDOPTS": "-rA"})
    print(f"make {target}: {time.monotonic() - began:.1f}s")
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output
    assert "Traceback" not in output
    assert not re.search(r"\d+ (skipped|xfailed|deselected|error)", output), output
    return output


def test_make_test_runs_the_platform_checks_on_the_project(adopter: Path) -> None:
    """The repository has no test of its own yet: `make test` runs the platform's checks on its
    project, every one of them, and passes."""
    from hangar_infra.synthesis import VARIANTS

    output = make_test_target(adopter, "test")
    stages = set(VARIANTS)
    assert passed_checks(output) == {
        **dict.fromkeys(STAGE_CHECKS, stages),
        **{check: {""} for check in HEALTH_CHECKS},
    }, output
    assert f"{2 * len(stages) + 2} passed" in output, output


def test_make_test_unit_and_test_infra_split_the_checks(adopter: Path) -> None:
    unit = passed_checks(make_test_target(adopter, "test-unit"))
    assert set(unit) == set(HEALTH_CHECKS)
    assert set(passed_checks(make_test_target(adopter, "test-infra"))) == set(STAGE_CHECKS)


def test_make_test_fails_when_the_health_path_meets_host_validation(adopter: Path) -> None:
    """The checks are no rubber stamp here either: without init's middleware line the private-IP
    Host gets Django's 400, and `make test-unit` fails naming the path and the fix."""
    settings = adopter / SITE / "settings.py"
    wired = settings.read_text()
    settings.write_text(wired.replace(f'    "{SITE}.health.HealthMiddleware",\n', ""))
    try:
        tested = run("make", "test-unit", cwd=adopter, check=False)
    finally:
        settings.write_text(wired)
    output = tested.stdout + tested.stderr
    assert tested.returncode != 0
    assert "GET /healthz with Host 10.0.1.23 (the load balancer's health check): 400" in output


def docker_ids(kind: str, *filters: str) -> list[str]:
    listed = ["docker", kind, "ls", "--all", "--quiet"] if kind == "container" else []
    listed = listed or ["docker", kind, "ls", "--quiet"]
    command = [*listed, *(f"--filter={f}" for f in filters)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()


def remove_compose_project(project: str) -> None:
    """What this module's commands created under its compose project, and nothing else: the
    project's name carries a hash of the temporary repository's path."""
    for kind, filters in (
        ("container", (f"name=^{project}-",)),
        ("volume", (f"name=^{project}_",)),
        ("network", (f"name=^{project}_",)),
        ("image", (f"reference={project}-*",)),
    ):
        if ids := docker_ids(kind, *filters):
            remove = ["rm", "--force"] if kind in ("container", "image") else ["rm"]
            subprocess.run(["docker", kind, *remove, *ids], capture_output=True, check=False)


@pytest.fixture(scope="module")
def ports() -> dict[str, str]:
    """Ports of this module's own: the machine runs other checkouts' stacks."""
    return {
        "HANGAR_LOCALSTACK_PORT": str(free_port()),
        "HANGAR_WEB_PORT": str(free_port()),
        "HANGAR_DEBUG_PORT": str(free_port()),
    }


@pytest.fixture(scope="module")
def compose_project(adopter: Path, ports: dict[str, str]) -> Iterator[str]:
    program = "from hangar.core.docker_client import compose_project; print(compose_project())"
    project = run(uv(), "run", "--frozen", "python", "-c", program, cwd=adopter).stdout.strip()
    assert project.startswith(f"{SITE}-"), project
    yield project
    run("make", "down", cwd=adopter, check=False, extra=ports)
    remove_compose_project(project)
    left = [docker_ids(kind, f"name=^{project}") for kind in ("container", "volume", "network")]
    assert left == [[], [], []], f"{project} left behind: {left}"
    assert docker_ids("image", f"reference={project}-*") == []


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


def docker_inspect(container: str, template: str) -> str:
    command = ["docker", "inspect", "--format", template, container]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


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
