"""The runtime image as ECS runs it: non-root, healthy by its own HEALTHCHECK, nothing from dev,
no .env file even when the checkout it is built from holds some."""

import json
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from compose_project import http

from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.git import git
from hangar.core.paths import ROOT, STATE_DIR
from hangar.deploy.image import build_runtime_image
from hangar.provision.docker import WHEELHOUSE_DIR, copy_wheelhouse

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


# --- secrets in the checkout -------------------------------------------------------------------
# Where python-dotenv and habit put them: the checkout's root, the project's folder and a package
# of it; tests/unit/test_env_files_stay_out.py checks the same rules without an engine.
ENV_FILES = (
    ".env",
    *(f"{contract().project_dir}/{name}" for name in (".env", ".env.production", "pkg/.env.local")),
)


@pytest.fixture(scope="module")
def image_from_a_checkout_with_env_files(provisioned: dict[str, str]) -> Iterator[str]:
    """The runtime image built from a scratch checkout: this one's tracked files as they are in
    the working tree, the wheelhouse (hard links: under .hangar, on its file system), and ENV_FILES
    beside them, each holding a made-up secret."""
    STATE_DIR.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="env-checkout-", dir=STATE_DIR))
    tag = f"hangar-e2e-runtime-env:{uuid.uuid4().hex[:8]}"
    try:
        for name in git("ls-files", "-z").split("\0"):
            if name and (ROOT / name).is_file():
                (scratch / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, scratch / name)
        if WHEELHOUSE_DIR.is_dir():
            wheelhouse = scratch / WHEELHOUSE_DIR.relative_to(ROOT)
            copy_wheelhouse(wheelhouse)
        for name in ENV_FILES:
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            (scratch / name).write_text("DJANGO_SECRET_KEY=e2e-must-never-reach-an-image\n")
        try:
            build_runtime_image(tag, context=scratch)
        except HangarError as error:
            pytest.fail(f"runtime image build from {scratch} failed: {error}")
        yield tag
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        docker("image", "rm", "--force", tag, check=False)


def files_in_layers(image: str, directory: Path) -> set[PurePosixPath]:
    """Every path any layer of `image` adds: `docker save`'s archive, each layer tar in it read
    (a file a later layer deletes still ships in the layer that added it)."""
    archive = directory / "image.tar"
    subprocess.run(["docker", "save", "--output", str(archive), image], check=True, timeout=300)
    paths: set[PurePosixPath] = set()
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            content = outer.extractfile(member) if member.isfile() else None
            if content is None:
                continue
            try:
                with tarfile.open(fileobj=content) as layer:
                    paths |= {PurePosixPath(name) for name in layer.getnames()}
            except tarfile.ReadError:
                continue  # the manifest and configs (JSON), not a layer
    return paths


def test_no_env_file_from_the_checkout_reaches_the_image(
    image_from_a_checkout_with_env_files: str, tmp_path: Path
) -> None:
    paths = files_in_layers(image_from_a_checkout_with_env_files, tmp_path)

    # The project folder was copied (else the check below would hold vacuously) ...
    assert PurePosixPath("app", "src", contract().project_dir, "manage.py") in paths
    # ... without a single .env file of it, nor of anywhere else.
    env_files = [p for p in paths if p.name.startswith(".env") and p.name != ".env.example"]
    assert env_files == [], env_files
