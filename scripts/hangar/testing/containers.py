"""The containers a project's end-to-end tests run against, for Hangar's and the project's own
(hangar.testing.plugin loads these fixtures): a provisioned Docker engine, one compose project per
test run on the project's scratch copy, the `local` stage deployed into its LocalStack, the app
services up, the development superuser, and the runtime image.

The project name is unique to the run and every host port is a free one, so a developer's own
stack (and a LocalStack on 4566) keeps running untouched while these tests run.
"""

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hangar.core import docker_client
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import DEV_ENV_FILE_VARIABLE, LOCAL_ENV_FILE, ROOT
from hangar.core.ports import spare_port
from hangar.devloop import dev_superuser
from hangar.devloop.in_project import MANAGE_PY


@dataclass
class Compose:
    project: str
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)

    def run(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*docker_client.compose_command(self.project), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} failed (exit {result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def pause(self, service: str) -> None:
        docker_client.pause_service(self.project, service, self.env)

    def logs(self) -> str:
        return self.run("logs", "--no-color", "--tail=80", check=False).stdout


# compose.yaml's USER_UID/USER_GID default, which provision leaves in place when run as root.
DEV_IMAGE_DEFAULT_ID = 1000


@pytest.fixture(scope="session")
def provisioned() -> dict[str, str]:
    """The engine, plugins and images `hangar docker provision` sets up; its compose variables.

    Under CI provisioning installs and starts the engine itself; on a laptop without an engine the
    tests skip. Where an engine runs, a provisioning error is a test failure, never a skip.
    """
    from hangar.provision import docker  # imported by the tests that use it: pytest starts faster

    if os.environ.get("CI") != "true" and not docker_client.engine_responds():
        pytest.skip(
            "no Docker engine answers `docker info`: start Docker, "
            "or run `hangar docker provision` as root to install one"
        )
    try:
        docker.provision_all()
    except HangarError as error:
        pytest.fail(f"`hangar docker provision` failed: {error}")
    return docker_client.compose_settings()


@pytest.fixture(scope="session")
def source_dir(provisioned: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the web and worker containers mount at /app/src: a copy of the checkout's project,
    scripts/ (web runs hangar.devloop.devserver from there) and pyproject.toml (the contract the
    containers read, hangar.devloop.in_project).

    The dev-loop tests edit views in it, so the developer's checkout is never touched. It belongs
    to the dev image's user (the ids compose builds it with), who must be able to write there.
    """
    root = tmp_path_factory.mktemp("hangar-source")
    for tree in (contract().project_dir, "scripts"):
        shutil.copytree(
            ROOT / tree,
            root / tree,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3", "staticfiles"),
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    uid = int(provisioned.get("USER_UID", DEV_IMAGE_DEFAULT_ID))
    gid = int(provisioned.get("USER_GID", DEV_IMAGE_DEFAULT_ID))
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)
    return root


@pytest.fixture(scope="session")
def compose(provisioned: dict[str, str], source_dir: Path) -> Iterator[Compose]:
    ports = {
        "WEB_PORT": spare_port(),
        "DEBUGPY_PORT": spare_port(),
        "LOCALSTACK_PORT": spare_port(),
    }
    project = Compose(
        project=f"hangar-e2e-{uuid.uuid4().hex[:8]}",
        env={
            **os.environ,
            **{name: str(port) for name, port in ports.items()},
            "HANGAR_SOURCE_DIR": str(source_dir),
            # As in every deployed stage: none of the project's settings for `make dev` alone.
            DEV_ENV_FILE_VARIABLE: os.devnull,
        },
        ports=ports,
    )
    try:
        yield project
    finally:
        # The services' own stop grace periods, as `make down` uses them: a --timeout here held
        # LocalStack, whose shutdown hangs after a deploy, for all of it (compose.yaml: 2 s).
        project.run("down", "--volumes", "--rmi=local", check=False)
        remaining = project.run("ps", "--all", "--quiet", check=False).stdout.split()
        assert remaining == [], f"`compose down` left containers behind: {remaining}"


@pytest.fixture(scope="session")
def local_env_restored() -> Iterator[None]:
    """deploy_local writes the developer's .hangar/local.env; put theirs back afterwards."""
    saved = LOCAL_ENV_FILE.read_bytes() if LOCAL_ENV_FILE.exists() else None
    yield
    if saved is None:
        LOCAL_ENV_FILE.unlink(missing_ok=True)
    else:
        LOCAL_ENV_FILE.write_bytes(saved)


@pytest.fixture(scope="session")
def local_stage(compose: Compose, local_env_restored: None) -> dict[str, str]:
    """db and LocalStack healthy, then the `local` stage deployed into this stack's LocalStack."""
    started = time.monotonic()
    compose.run("up", "--detach", "--wait", "db", "localstack", timeout=600)
    print(f"\ndb + localstack healthy in {time.monotonic() - started:.1f}s")
    from hangar.deploy.local_stage import deploy_local

    return deploy_local(f"http://127.0.0.1:{compose.ports['LOCALSTACK_PORT']}")


@pytest.fixture(scope="session")
def stack(compose: Compose, local_stage: dict[str, str]) -> Compose:
    """The app services, started once .hangar/local.env holds the stage's outputs.

    One stack for every module that needs it, so the images are built once per run.
    """
    started = time.monotonic()
    result = compose.run("up", "--detach", "--wait", "--build", timeout=1200, check=False)
    assert result.returncode == 0, f"compose up failed:\n{result.stderr[-3000:]}\n{compose.logs()}"
    print(f"app images built and web/worker up in {time.monotonic() - started:.1f}s")
    return compose


@pytest.fixture(scope="session")
def dev_user(stack: Compose) -> tuple[str, str]:
    """Username and password of the development superuser, created the way `make dev` does."""
    created = stack.run("exec", "-T", "web", *MANAGE_PY, *dev_superuser.manage_arguments())
    assert f"username {dev_superuser.USERNAME!r}" in created.stdout
    return dev_superuser.USERNAME, dev_superuser.PASSWORD


@pytest.fixture(scope="session")
def runtime_image(provisioned: dict[str, str]) -> Iterator[str]:
    """The runtime stage built the way CI builds it; its build time is printed for the report."""
    tag = f"hangar-e2e-runtime:{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    try:
        from hangar.deploy.image import build_runtime_image

        build_runtime_image(tag)
    except HangarError as error:
        pytest.fail(f"runtime image build failed: {error}")
    print(f"\nruntime image {tag} built in {time.monotonic() - started:.1f}s")
    yield tag
    subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, check=False)
