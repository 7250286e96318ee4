"""Two checkouts on one machine never touch each other (docs/dev.md#two-checkouts-on-one-machine).

Two copies of this checkout (its git-visible files) in folders of the same name, `hangar`, under
different parents: the worst case for a name derived from the folder alone. Neither names its
compose project; each CLI derives its own (hangar.core.docker_client.compose_project). The first
runs `make dev` (LocalStack with the deployed `local` stage, db, web, worker). Then the second:
- `localstack up` on the first one's LocalStack port is refused with one line naming the first
  checkout's container, and changes nothing;
- `dev`, `run-task` (web, on a port of its own) and `down`, on ports of its own.
After each step every container of the first checkout is the same container, started at the same
time, its web still answers, and its stage is the same CloudFormation stack.

The copies reuse this checkout's Python environment and node_modules (symlinks) and the offline
wheelhouse (hard links), as tests/e2e/test_adopted_project.py does. Everything either copy
creates (containers, networks, volumes, images) is removed afterwards, whatever happened.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from compose_project import copy_checkout_files

from hangar.core import docker_client
from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.core.ports import spare_port
from hangar.deploy import stacks as infra

pytestmark = pytest.mark.e2e

# What a developer's own shell may set that would name the project or the stack's endpoint for
# both copies alike.
SHARED_VARIABLES = (
    "COMPOSE_PROJECT_NAME",
    "LOCALSTACK_ENDPOINT",
    "LOCALSTACK_PORT",
    "WEB_PORT",
    "DEBUGPY_PORT",
    "DATABASE_URL",
)


@dataclass
class Checkout:
    root: Path
    localstack_port: int
    web_port: int
    debug_port: int
    project: str = ""
    # Every volume its containers mounted: `make down` keeps the anonymous ones (LocalStack's
    # /var/lib/localstack), which no label ties to the project once the containers are gone.
    volumes: set[str] = field(default_factory=set)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SHARED_VARIABLES}
        return {
            **env,
            "PYTHONPATH": str(self.root / "scripts"),
            "HANGAR_DEV_MODE": "docker",
            "HANGAR_LOCALSTACK_MODE": "docker",
            "HANGAR_LOCALSTACK_PORT": str(self.localstack_port),
            "HANGAR_WEB_PORT": str(self.web_port),
            "HANGAR_DEBUG_PORT": str(self.debug_port),
            **overrides,
        }

    def hangar(
        self, *args: str, timeout: float = 1800, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """This copy's own CLI, as `make` runs it (in the copy, its scripts/ on the path)."""
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "hangar.cli", *args],
            cwd=self.root,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        print(f"{self.root.parent.name}: hangar {' '.join(args)} {time.monotonic() - started:.0f}s")
        return result

    def ok(self, *args: str, **env: str) -> str:
        result = self.hangar(*args, **env)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"hangar {' '.join(args)} failed:\n{output[-5000:]}"
        return output

    def compose(self) -> list[str]:
        return [
            *("docker", "compose", "--project-directory", str(self.root)),
            *("--file", str(self.root / "compose.yaml")),
            *("--env-file", str(self.root / ".hangar" / "compose.env")),
            *("--project-name", self.project),
        ]

    def containers(self) -> dict[str, tuple[str, str, bool]]:
        """Every container of this copy's project: name → (id, started at, running)."""
        listed = docker(
            "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={self.project}"
        ).split()
        if not listed:
            return {}
        inspected = json.loads(docker("inspect", *listed))
        self.volumes |= {
            mount["Name"] for c in inspected for mount in c["Mounts"] if mount["Type"] == "volume"
        }
        return {
            c["Name"].lstrip("/"): (c["Id"], c["State"]["StartedAt"], c["State"]["Running"])
            for c in inspected
        }

    def leftovers(self) -> list[str]:
        """Containers, networks and volumes of this copy's project that still exist."""
        label = f"label=com.docker.compose.project={self.project}"
        listed = [
            f"{kind} {name}"
            for kind in ("container", "network", "volume")
            for name in docker(
                *(("ps", "--all") if kind == "container" else (kind, "ls")),
                "--quiet",
                "--filter",
                label,
            ).split()
        ]
        existing = set(docker("volume", "ls", "--quiet").split())
        return listed + [f"volume {name}" for name in sorted(self.volumes & existing)]

    def stack_id(self) -> str:
        cloudformation = boto3.client(
            "cloudformation",
            endpoint_url=f"http://127.0.0.1:{self.localstack_port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        stack_name = contract().stack_names(infra.LOCAL_STAGE)[1]
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        assert stack["StackStatus"].endswith("_COMPLETE"), stack["StackStatus"]
        return str(stack["StackId"])

    def web_answers(self) -> bool:
        url = f"http://127.0.0.1:{self.web_port}{contract().health_path}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status) == 200

    def remove_everything(self) -> None:
        """What this copy may have created, gone: its run-task containers, its compose project
        (containers, network, volumes, the images compose built) and its runtime image."""
        if not self.project:
            return
        for task in ("web", "worker", "migration"):
            docker("rm", "--force", f"{self.project}-run-task-{task}", check=False)
        subprocess.run(
            [*self.compose(), "down", "--volumes", "--rmi=local", "--remove-orphans"],
            capture_output=True,
            timeout=600,
            check=False,
        )
        docker("image", "rm", "--force", f"{self.project}-runtime:local", check=False)
        if self.volumes:
            docker("volume", "rm", "--force", *self.volumes, check=False)


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert not check or result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
    return result.stdout


def link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another filesystem
        shutil.copy2(source, destination)


def make_copy(root: Path) -> None:
    copy_checkout_files(root)
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)  # run-task lists inputs
    for environment in (".venv", "node_modules"):
        (root / environment).symlink_to(ROOT / environment)
    state = root / ".hangar"
    state.mkdir()
    if (ROOT / ".hangar" / "wheelhouse").is_dir():
        shutil.copytree(
            ROOT / ".hangar" / "wheelhouse", state / "wheelhouse", copy_function=link_or_copy
        )
    # Provision's choices for this machine (stand-in images, the dependency route), as the copy.
    compose_env = docker_client.COMPOSE_ENV_FILE.read_text().replace(str(ROOT), str(root))
    (state / "compose.env").write_text(compose_env)


def project_of(checkout: Checkout) -> str:
    """The compose project the copy's CLI derives for itself."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from hangar.core import docker_client as d; print(d.compose_project())",
        ],
        cwd=checkout.root,
        env=checkout.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def checkouts(
    provisioned: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Checkout, Checkout]]:
    parent = tmp_path_factory.mktemp("two-checkouts")
    first, second = (
        Checkout(parent / side / "hangar", spare_port(), spare_port(), spare_port())
        for side in ("first", "second")
    )
    try:
        for checkout in (first, second):
            make_copy(checkout.root)
            checkout.project = project_of(checkout)
        yield first, second
    finally:
        for checkout in (first, second):
            checkout.remove_everything()
        left = {c.project: c.leftovers() for c in (first, second) if c.project}
        assert not any(left.values()), f"left behind: {left}"


def test_the_second_checkout_never_touches_the_first(checkouts: tuple[Checkout, Checkout]) -> None:
    first, second = checkouts
    assert first.project != second.project
    assert {first.project, second.project}.isdisjoint({"hangar", contract().service_name})

    first.ok("dev", "--detach")
    before = first.containers()
    assert any(name.endswith("-localstack-1") for name in before), before
    # All running but migrate, which has applied the migrations and exited.
    assert all(running for name, (*_, running) in before.items() if "-migrate-" not in name), before
    stack = first.stack_id()

    def untouched(after: str) -> None:
        assert first.containers() == before, (
            f"the first checkout's containers changed after {after}"
        )
        assert first.stack_id() == stack, f"the first checkout's stage changed after {after}"
        assert first.web_answers()

    # Its LocalStack's port: refused in one line that names the first checkout, nothing started.
    taken = second.hangar("localstack", "up", HANGAR_LOCALSTACK_PORT=str(first.localstack_port))
    output = taken.stdout + taken.stderr
    assert taken.returncode != 0, output
    assert (
        f"port {first.localstack_port} (LocalStack) is already in use by container "
        f"{first.project}-localstack-1 (the checkout {first.root.resolve()}'s compose project "
        f"{first.project})"
    ) in output
    assert "Traceback" not in output
    assert second.containers() == {}
    untouched("the second's refused localstack up")

    second.ok("localstack", "up")  # on its own port
    assert f"{second.project}-localstack-1" in second.containers()
    untouched("the second's localstack up")

    second.ok("dev", "--detach")
    assert any(name.startswith(f"{second.project}-web") for name in second.containers())
    untouched("the second's make dev")

    run_task_port = spare_port()
    second.ok(
        "run-task", "--stage", "local", "--task", "web", "--port", str(run_task_port), "--detach"
    )
    task = f"{second.project}-run-task-web"
    networks = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", task))
    assert list(networks) == [f"{second.project}_default"]
    with urllib.request.urlopen(
        f"http://127.0.0.1:{run_task_port}{contract().health_path}", timeout=30
    ) as response:
        assert response.status == 200
    untouched("the second's make run-task")

    docker("rm", "--force", task)  # as run-task says to stop it
    second.ok("down")
    assert second.containers() == {}
    untouched("the second's make down")
