"""A copy of this checkout that runs its own hangar CLI, on ports of its own.

The copy holds the checkout's git-visible files and reuses its Python environment and
node_modules (symlinks) and the offline wheelhouse (hard links), so only what the copy changes is
built again. tests/e2e/test_two_checkouts.py runs two of them; test_adopted_project.py moves
another project into one.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from compose_project import copy_checkout_files

from hangar.core import docker_client
from hangar.core.aws_clients import aws_client
from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.core.stages import LOCAL_STAGE, REGION
from hangar.provision.docker import WHEELHOUSE_DIR, copy_wheelhouse

# What a developer's own shell, or this test process (pytest's plugin sets the settings module),
# may set that would name the project or the stack's endpoint for every copy alike.
SHARED_VARIABLES = (
    "COMPOSE_PROJECT_NAME",
    "LOCALSTACK_ENDPOINT",
    "LOCALSTACK_PORT",
    "WEB_PORT",
    "DEBUGPY_PORT",
    "DATABASE_URL",
    "DJANGO_SETTINGS_MODULE",
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
        endpoint = f"http://127.0.0.1:{self.localstack_port}"
        cloudformation = aws_client("cloudformation", region=REGION, endpoint=endpoint)
        stack_name = contract().stack_names(LOCAL_STAGE)[1]
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


def make_copy(root: Path) -> None:
    copy_checkout_files(root)
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)  # run-task lists inputs
    for environment in (".venv", "node_modules"):
        (root / environment).symlink_to(ROOT / environment)
    state = root / ".hangar"
    state.mkdir()
    if WHEELHOUSE_DIR.is_dir():
        copy_wheelhouse(state / "wheelhouse")
    # Provision's choices for this machine (stand-in images, the dependency route), as the copy.
    # None yet for a copy that needs no Docker (host mode) while CI still provisions.
    if docker_client.COMPOSE_ENV_FILE.is_file():
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
