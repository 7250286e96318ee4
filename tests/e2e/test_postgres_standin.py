"""The PostgreSQL stand-in (hangar/provision/standins/postgres, built by `hangar docker
provision` where postgres:17 cannot be pulled) survives an interrupted first start.

A Ctrl-C during a first `make dev` kills the database container while its entrypoint initialises
the new volume (the teardown's `compose kill`). The old entrypoint took any PG_VERSION for a
finished cluster; initdb writes it first, so a kill after initdb but before the database was
created left a volume that started, passed compose's healthcheck (pg_isready) and had no
`hangar` database: every later `migrate` exited 1. Here the moment is held, not timed: initdb
runs through a wrapper that, once the real initdb has returned, marks that and waits to be killed.

The image is built from the checkout's recipe (cached layers make it seconds), so the test covers
the entrypoint as provision ships it, also where the official image is used instead.
"""

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hangar.core import docker_client
from hangar.core.versions import POSTGRES_MAJOR
from hangar.provision import docker as provision

pytestmark = pytest.mark.e2e

RECIPE = provision.STANDIN_DIR / "postgres"
PGDATA = "/var/lib/postgresql/data"
USER = DATABASE = PASSWORD = "hangar"  # compose.yaml's db service
INITDB = f"/usr/lib/postgresql/{POSTGRES_MAJOR}/bin/initdb"
RETURNED = "/tmp/initdb-returned"  # inside the container
HOLD_AFTER_INITDB = f"""#!/bin/sh
{INITDB} "$@" || exit
touch {RETURNED}
exec sleep infinity
"""
DEADLINE = 180.0  # seconds for a start on a loaded machine (seen: 1-6 s idle)


def docker(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    settings = docker_client.compose_settings()
    base = settings.get(docker_client.PYTHON_IMAGE_VARIABLE) or docker_client.dockerfile_base(
        "python"
    )
    tag = f"hangar-test/postgres-standin:{uuid.uuid4().hex[:8]}"
    args = ["--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"POSTGRES_MAJOR={POSTGRES_MAJOR}"]
    docker("build", "--quiet", "--tag", tag, *args, str(RECIPE))
    yield tag
    docker("image", "rm", tag, check=False)


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"hangar-test-pgdata-{uuid.uuid4().hex[:8]}"
    docker("volume", "create", name)
    yield name
    docker("volume", "rm", "--force", name, check=False)


def start(image: str, volume: str, *extra: str) -> str:
    return docker(
        "run", "--detach", "--network=none", *extra,
        f"--env=POSTGRES_USER={USER}", f"--env=POSTGRES_PASSWORD={PASSWORD}",
        f"--env=POSTGRES_DB={DATABASE}", f"--volume={volume}:{PGDATA}", image,
    ).stdout.strip()  # fmt: skip


def wait_for(container: str, *command: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while docker("exec", container, *command, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"{command} never succeeded:\n{logs(container)}"
        time.sleep(0.5)


def logs(container: str) -> str:
    result = docker("logs", container, check=False)
    return (result.stdout + result.stderr)[-3000:]


def test_a_start_killed_right_after_initdb_initialises_again_at_the_next(
    image: str, volume: str, tmp_path: Path
) -> None:
    hold = tmp_path / "initdb"
    hold.write_text(HOLD_AFTER_INITDB)
    hold.chmod(0o755)
    tmp_path.chmod(0o755)  # the wrapper runs as the container's postgres user
    path = f"/hold:/usr/lib/postgresql/{POSTGRES_MAJOR}/bin:/usr/local/bin:/usr/bin:/bin"
    first = start(image, volume, f"--volume={tmp_path}:/hold:ro", f"--env=PATH={path}")
    try:
        wait_for(first, "test", "-e", RETURNED)
        docker("kill", first)  # what the interrupted first start's teardown does
    finally:
        docker("rm", "--force", first, check=False)

    second = start(image, volume)
    try:
        # compose's healthcheck, then what migrate does: the database over TCP with the password
        wait_for(second, "pg_isready", "--quiet", "--host=127.0.0.1", f"--username={USER}")
        query = docker(
            "exec", f"--env=PGPASSWORD={PASSWORD}", second, "psql", "--host=127.0.0.1",
            f"--username={USER}", f"--dbname={DATABASE}", "--no-align", "--tuples-only",
            "--command=SELECT current_database()",
            check=False,
        )  # fmt: skip
        assert query.returncode == 0, f"{query.stderr}\n{logs(second)}"
        assert query.stdout.strip() == DATABASE
        assert "was interrupted; starting it again" in logs(second)
    finally:
        docker("rm", "--force", second, check=False)
