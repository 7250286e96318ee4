"""Bring your own project: a Django project written elsewhere moves in by docs/adopting.md alone.

A copy of this checkout (tests/e2e/checkout_copy.py), committed as it is, gets MDN's LocalLibrary
(tests/fixtures/locallibrary, SOURCE.md says from where and what its move changed) in place of
the sample; a `[tool.hangar]` of its own: no bucket, queue or worker. In that copy its own hangar
CLI runs `make dev` (compose: db, LocalStack with the `local` stage deploy-local deployed, web
with hot reload) and run-task serves its pages from the runtime image. Beside that, one after
the other (they need no container): the project's own tests pass under Hangar's pytest
configuration, then Hangar's `make lint`, `make test-unit` and `make test-infra` pass in the copy,
which shows the platform's layers hold for whichever project the contract names. Then git shows
that nothing outside the project's folder and `[tool.hangar]` changed.

The minimal fixture (tests/fixtures/minimal_project) keeps the cheap check: its settings meet
docs/adopting.md section 3 without Docker (tests/unit/test_minimal_project.py).
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from checkout_copy import Checkout, make_copy, project_of
from local_library import FIXTURE, SETTINGS_MODULE, WSGI_APPLICATION

from hangar.adopt.init import without_contract
from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.core.ports import spare_port

pytestmark = pytest.mark.e2e

SERVICE = "library"
PROJECT_DIR = "library"
# What an ALB health check sends: the task's private IP as Host, never an allowed host.
PRIVATE_IP_HOST = "10.0.1.23"
# Its home page reads the database (counts of books, copies and authors).
HOME = "/catalog/"
HOME_TITLE = b"<h1>Local Library Home</h1>"


def get(url: str, host: str = "localhost") -> tuple[int, bytes, str]:
    """Status, body and content type, errors included; only this run's http://127.0.0.1 URLs."""
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get_content_type()


def library_contract() -> str:
    """`[tool.hangar]` for LocalLibrary: what docs/adopting.md section 2 asks, nothing more."""
    return f"""[tool.hangar]
service-name = "{SERVICE}"
image-platform = "{contract().image_platform}"
project-dir = "{PROJECT_DIR}"
settings-module = "{SETTINGS_MODULE}"
wsgi-application = "{WSGI_APPLICATION}"
health-path = "/healthz"
readiness-path = "/readyz"
container-port = 8000
"""


def git(copy: Path, *args: str) -> str:
    identity = ("-c", "user.name=adopter", "-c", "user.email=adopter@example.com")
    return subprocess.run(
        ["git", *identity, *args], cwd=copy, capture_output=True, text=True, check=True
    ).stdout


def changed_outside_the_project(copy: Path) -> list[str]:
    """What changed since the commit before the move, besides the project's folder (and the
    sample's, which the move deletes) and pyproject's `[tool.hangar]`."""
    status = git(copy, "status", "--porcelain", "--untracked-files=all", "--no-renames")
    paths = [line[3:] for line in status.splitlines()]
    outside = [
        p for p in paths if not p.startswith((f"{PROJECT_DIR}/", f"{contract().project_dir}/"))
    ]
    if "pyproject.toml" in outside:
        before = git(copy, "show", "HEAD:pyproject.toml")
        if without_contract(before) == without_contract((copy / "pyproject.toml").read_text()):
            outside.remove("pyproject.toml")
    return outside


def move_in(checkout: Checkout) -> None:
    """docs/adopting.md sections 1 and 2: the sample out, the project in, the contract written by
    `hangar init` (the sample's replaced: --force), which finds what library_contract() names."""
    shutil.rmtree(checkout.root / contract().project_dir)
    shutil.copytree(
        FIXTURE, checkout.root / PROJECT_DIR, ignore=shutil.ignore_patterns("SOURCE.md")
    )
    # The copy holds other manage.py files (the fixtures'): the project's folder is named.
    checkout.ok("init", "--project-dir", PROJECT_DIR, "--service-name", SERVICE, "--force")
    written = tomllib.loads((checkout.root / "pyproject.toml").read_text())["tool"]["hangar"]
    assert written == tomllib.loads(library_contract())["tool"]["hangar"]


@pytest.fixture(scope="module")
def adopted(
    provisioned: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Checkout]:
    """The copy, committed before the move, with LocalLibrary moved in; removed after."""
    checkout = Checkout(
        tmp_path_factory.mktemp("adopted") / "repo", spare_port(), spare_port(), spare_port()
    )
    make_copy(checkout.root)
    # The environments the copy links to are this checkout's, not the copy's own files.
    (checkout.root / ".git" / "info" / "exclude").write_text("/.venv\n/node_modules\n")
    git(checkout.root, "add", "--all")
    git(checkout.root, "commit", "--quiet", "--message", "before the move")
    move_in(checkout)
    checkout.project = project_of(checkout)
    try:
        yield checkout
    finally:
        checkout.remove_everything()
        assert not checkout.leftovers(), f"left behind: {checkout.leftovers()}"


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str
    seconds: float


class OneAfterAnother:
    """Commands run one after the other in a thread, beside the test's own steps; each one's
    outcome by name. stop() kills what still runs (its process group: make's pytest workers)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.started: dict[str, Future[Finished]] = {}
        self.current: subprocess.Popen[str] | None = None

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.started[name] = self.pool.submit(self.run, command, env)

    def run(self, command: list[str], env: dict[str, str]) -> Finished:
        began = time.monotonic()
        with subprocess.Popen(
            command,
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        ) as self.current:
            output, _ = self.current.communicate()
        return Finished(self.current.returncode, output, time.monotonic() - began)

    def outcome(self, name: str) -> Finished:
        return self.started[name].result(timeout=3600)

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.current is not None and self.current.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.current.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def beside_dev(adopted: Checkout) -> Iterator[OneAfterAnother]:
    """What needs no container, started before `make dev` (which mostly waits on containers), one
    after the other: the project's own tests under Hangar's pytest configuration, then Hangar's
    `make lint`, `make test-unit` (with the project's tests, collected from the contract) and
    `make test-infra` in the copy."""
    # The plugin takes the settings module from [tool.hangar]; SQLite, as its README runs them.
    env = adopted.env()
    # Its README's step before its tests: they render pages through the manifest storage.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=adopted.root / PROJECT_DIR,
        env=env,
        capture_output=True,
        check=True,
    )
    # The copy shares this checkout's environments (checkout_copy.py): `make setup` there is done
    # (its stamp), and no `uv run` may sync them to the copy's folder, which is removed after.
    (adopted.root / ".hangar" / "setup.stamp").touch()
    tools = ROOT / ".hangar" / "tools" / "bin"
    platform = adopted.env(PATH=f"{tools}{os.pathsep}{os.environ['PATH']}", UV_NO_SYNC="1")
    running = OneAfterAnother(adopted.root)
    running.start(
        "own tests",
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", PROJECT_DIR],
        env,
    )
    # The audit needs OSV's service, which is the same for any project: not what this proves.
    running.start(
        "lint",
        ["make", "--no-print-directory", "lint"],
        {**platform, "HANGAR_AUDIT_OFFLINE": "warn"},
    )
    for target in ("test-unit", "test-infra"):
        running.start(target, ["make", "--no-print-directory", target], platform)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def dev(adopted: Checkout, beside_dev: OneAfterAnother) -> Checkout:
    """`make dev` in the copy: db, LocalStack and the `local` stage, migrations, web."""
    adopted.ok("dev", "--detach")
    return adopted


def synthesized_stacks(assembly: Path) -> dict[str, Path]:
    """Stack name → template file, from the cloud assembly and the stage's nested one."""
    stacks = {}
    for manifest in assembly.rglob("manifest.json"):
        for artifact in json.loads(manifest.read_text()).get("artifacts", {}).values():
            if artifact.get("type") == "aws:cloudformation:stack":
                properties = artifact["properties"]
                stacks[properties["stackName"]] = manifest.parent / properties["templateFile"]
    return stacks


def test_make_dev_serves_its_pages_and_reloads_an_edited_module(dev: Checkout) -> None:
    base = f"http://127.0.0.1:{dev.web_port}"
    status, body, _ = get(f"{base}{HOME}")
    assert (status, HOME_TITLE in body) == (200, True), body[-2000:]
    # A new view in the project's own URLconf, saved as an editor does (replace in one step).
    marker = uuid.uuid4().hex
    urls = dev.root / PROJECT_DIR / "locallibrary" / "urls.py"
    edited = urls.with_suffix(".tmp")
    edited.write_text(
        urls.read_text() + "\nfrom django.http import HttpResponse\n\n"
        f"urlpatterns += [path('reloaded/', lambda request: HttpResponse('{marker}'))]\n"
    )
    saved = time.monotonic()
    edited.replace(urls)
    deadline = saved + 120
    while time.monotonic() < deadline:
        try:
            if get(f"{base}/reloaded/")[:2] == (200, marker.encode()):
                break
        except (urllib.error.URLError, ConnectionError):
            pass  # the reloader is swapping processes
        time.sleep(0.2)
    else:
        pytest.fail("the edited URLconf was not served within 120 s")
    print(f"hot reload: served {time.monotonic() - saved:.2f}s after the save")


def test_deploy_local_creates_only_what_it_declares(dev: Checkout) -> None:
    stacks = synthesized_stacks(dev.root / "cdk.out" / "local")
    assert set(stacks) == {f"{SERVICE}-local-registry", f"{SERVICE}-local-service"}
    template = stacks[f"{SERVICE}-local-service"].read_text()
    resources = json.loads(template)["Resources"]
    task_definitions = [r for r in resources.values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert len(task_definitions) == 2, "web and migration only: the project declares no worker"
    assert not [logical_id for logical_id in resources if "Worker" in logical_id]
    # It declares no bucket or queue: the access-log bucket is the platform's own.
    assert not [r for r in resources.values() if r["Type"] == "AWS::SQS::Queue"]
    buckets = [i for i, r in resources.items() if r["Type"] == "AWS::S3::Bucket"]
    assert [i for i in buckets if not i.startswith("StorageAccessLogs")] == []
    assert '"hangar-' not in template
    lines = (dev.root / ".hangar" / "local.env").read_text().splitlines()
    handed = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "AWS_REGION"} <= handed
    assert not set(contract().env_from_outputs) & handed  # what the checkout's project declares


def test_run_task_serves_its_pages_from_the_runtime_image(dev: Checkout) -> None:
    port = spare_port()
    dev.ok("run-task", "--stage", "local", "--task", "web", "--port", str(port), "--detach")
    base = f"http://127.0.0.1:{port}"
    status, body, _ = get(f"{base}{HOME}")
    assert (status, HOME_TITLE in body) == (200, True), body[-2000:]
    # Its stylesheet, by the hashed name collectstatic gave it in the image (whitenoise serves it).
    stylesheet = re.search(rb'href="(/static/css/styles\.[0-9a-f]{12}\.css)"', body)
    assert stylesheet, body[-2000:]
    status, css, content_type = get(f"{base}{stylesheet[1].decode()}")
    assert (status, content_type) == (200, "text/css")
    assert b".sidebar-nav" in css
    assert get(f"{base}/healthz", PRIVATE_IP_HOST)[:2] == (200, b"ok")
    status, ready, _ = get(f"{base}/readyz")
    assert (status, json.loads(ready)) == (200, {"database": "ok"})
    # A foreign Host reaches the project's own host validation past the health path.
    assert get(f"{base}/readyz", PRIVATE_IP_HOST)[0] == 400


def test_its_own_tests_pass_under_hangars_test_configuration(
    adopted: Checkout, beside_dev: OneAfterAnother
) -> None:
    finished = beside_dev.outcome("own tests")
    assert finished.returncode == 0, finished.output[-5000:]
    assert re.search(r"\b40 passed\b", finished.output), finished.output[-2000:]
    adopted.ok("check-migrations")


def test_make_lint_passes_with_the_project_as_written(beside_dev: OneAfterAnother) -> None:
    """`make lint` in the copy: Hangar's rules on Hangar's code; LocalLibrary keeps no ruff or
    mypy configuration of its own, so only code that cannot run would fail in its folder."""
    finished = beside_dev.outcome("lint")
    assert finished.returncode == 0, finished.output[-5000:]
    print(f"make lint in the adopted copy: {finished.seconds:.0f}s")
    assert f"ruff: {PROJECT_DIR}/ has no ruff configuration" in finished.output
    assert f"mypy: {PROJECT_DIR}/" not in finished.output


def test_nothing_changed_outside_the_project_and_the_contract(
    adopted: Checkout, beside_dev: OneAfterAnother
) -> None:
    """Checked once every command above has run in the copy (their transient files, such as
    coverage's per-worker data, are gone by then)."""
    beside_dev.outcome("test-infra")  # the last one
    assert changed_outside_the_project(adopted.root) == []
    # The check sees a platform edit, in a file or in another table of pyproject.toml.
    compose = adopted.root / "compose.yaml"
    pyproject = adopted.root / "pyproject.toml"
    original_compose, original_pyproject = compose.read_text(), pyproject.read_text()
    try:
        compose.write_text(original_compose + "# edited\n")
        pyproject.write_text(
            original_pyproject.replace("[tool.ruff]", "[tool.ruff]\nfix = true", 1)
        )
        assert changed_outside_the_project(adopted.root) == ["compose.yaml", "pyproject.toml"]
    finally:
        compose.write_text(original_compose)
        pyproject.write_text(original_pyproject)


def test_hangars_unit_and_infra_layers_pass_against_its_contract(
    beside_dev: OneAfterAnother,
) -> None:
    """`make test-unit` (with the project's own tests, collected from the contract) and `make
    test-infra` in the copy: Hangar's platform tests hold for this project as they do for the
    sample, and none skips."""
    for target in ("test-unit", "test-infra"):
        finished = beside_dev.outcome(target)
        print(f"adopted: make {target} {finished.seconds:.0f}s")
        assert finished.returncode == 0, f"make {target} failed:\n{finished.output[-8000:]}"
        assert not re.search(r"\b\d+ skipped\b", finished.output), finished.output[-3000:]
