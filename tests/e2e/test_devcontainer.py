"""The dev container end to end, driven by the real Dev Containers CLI (pinned in package.json).

`devcontainer up` on a copy of the checkout (the developer's own tree, .hangar and compose project
stay untouched), then `devcontainer exec` for the workflow a VS Code user runs: `make test-unit`,
`make lint`, cfn-lint on the synthesized stage, `make deploy-local` (the post-start command; a
second deploy, an update, is the host's tests' to prove), `make test-integration` against
compose's LocalStack, git and docker, the worker the contract declares running on the deployed
stage, and the "Attach to Hangar" launch configuration stopping at a breakpoint in the project's
readiness (or health) view. The copy starts with a stale .hangar/local.env, which the post-start
deploy must replace. Nothing here names the project: what it is comes from `[tool.hangar]`, and
what it does in compose is for its own tests to prove. Where images cannot be pulled, the images
come from `hangar docker provision` (stand-ins and the wheelhouse), as for every container test
here; nothing is published on the host (VS Code forwards ports).
"""

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from compose_project import copy_checkout_files

from hangar.core import docker_client
from hangar.core.contract import contract
from hangar.core.paths import NODE_BIN
from hangar.core.versions import NODE_VERSION
from hangar.devloop.in_project import IN_PROJECT
from hangar.provision import docker
from hangar.testing.containers import DEV_IMAGE_DEFAULT_ID

pytestmark = pytest.mark.e2e

CLI = NODE_BIN / "devcontainer"
# What compose.yaml and the Dockerfile read from `hangar docker provision`'s choices.
BUILD_VARIABLES = (
    "PYTHON_IMAGE",
    "LOCALSTACK_IMAGE",
    "POSTGRES_IMAGE",
    "DEPS_SOURCE",
    # The Dockerfile with the stand-in base where the pinned one cannot be pulled.
    "APP_DOCKERFILE",
)
# A key the post-start deploy writes, pointing at a LocalStack this container never had.
STALE_ENDPOINT = "AWS_ENDPOINT_URL=http://a-localstack-long-gone:4566"
UP_TIMEOUT = 2400.0
# The integration modules whose behaviour the dev container changes (see the test's docstring).
WIRING_MODULES = ("test_local_stage_resources", "test_localstack_lifecycle")
# How long the worker must keep running, once started on the deployed stage, to count as staying up:
# a worker that cannot use the stage exits within a second or two of starting (compose restarts it).
WORKER_STEADY_SECONDS = 15.0

# VS Code's "Attach to Hangar", run where VS Code runs it: inside the container, ${workspaceFolder}
# being /app/src, in the project's folder with its settings (hangar.devloop.in_project). The view
# that serves the contract's readiness path (else its health path) comes from Django's URL resolver;
# the breakpoint goes on the first statement of its body (tests/e2e/dap_client.py).
ATTACH_SCRIPT = """
import json, sys, threading, urllib.error, urllib.request
import django
from hangar.core.contract import contract
sys.path.insert(0, "/app/src/tests/e2e")
from dap_client import attach, attach_subprocess, wait_stopped_at
from view_breakpoint import breakpoint_in_the_served_view

django.setup()
app = contract()
path, source, line = breakpoint_in_the_served_view()
launch = json.load(open("/app/src/.vscode/launch.json"))
(config,) = (c for c in launch["configurations"] if c["name"] == "Attach to Hangar")
config = json.loads(json.dumps(config).replace("${workspaceFolder}", "/app/src"))
for key in ("name", "type", "request"):
    config.pop(key)
adapter = attach(config["connect"]["host"], config["connect"]["port"], {}, config)
server = attach_subprocess(adapter, {source: [line]})
status = {}
def get():
    url = f"http://127.0.0.1:{app.container_port}{path}"
    try:
        status["code"] = urllib.request.urlopen(url, timeout=60).status
    except urllib.error.HTTPError as error:  # 503 when a dependency is down: still a response
        status["code"] = error.code
client = threading.Thread(target=get)
client.start()
thread_id = wait_stopped_at(server, source, line)
held = client.is_alive()
server.request("continue", {"threadId": thread_id})
client.join(timeout=30)
print(json.dumps({"where": f"{source}:{line}", "held": held, "status": status.get("code")}))
"""


@dataclass(frozen=True)
class ContainerState:
    status: str
    exit_code: int
    started_at: str  # RFC 3339 with nanoseconds, as the engine reports it
    restarts: int


@dataclass
class DevContainer:
    workspace: Path
    env: dict[str, str]
    project: str

    def exec(self, *command: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        arguments = ["exec", "--workspace-folder", str(self.workspace), *command]
        return run_cli(arguments, self.env, timeout)

    def start(self, *command: str) -> subprocess.Popen[str]:
        """`devcontainer exec` in the background; the caller collects it with communicate()."""
        arguments = ["exec", "--workspace-folder", str(self.workspace), *command]
        return subprocess.Popen(
            [str(CLI), *arguments],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def compose(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """`docker compose` on the dev container's project, from the host."""
        command = [*docker_client.compose_command(self.project)]
        command += ["--file", str(self.workspace / ".devcontainer" / "compose.devcontainer.yaml")]
        return subprocess.run(
            [*command, *arguments], env=self.env, capture_output=True, text=True, check=False
        )

    def worker_state(self) -> ContainerState | None:
        """The compose `worker` container's state, None when there is none."""
        listed = self.compose("ps", "--all", "--quiet", "worker")
        assert listed.returncode == 0, listed.stderr
        if not (container := listed.stdout.strip()):
            return None
        template = "{{.State.Status}} {{.State.ExitCode}} {{.State.StartedAt}} {{.RestartCount}}"
        inspected = subprocess.run(
            ["docker", "inspect", "--format", template, container],
            capture_output=True,
            text=True,
            check=True,
        )
        status, exit_code, started_at, restarts = inspected.stdout.split()
        return ContainerState(status, int(exit_code), started_at, int(restarts))

    def check(self, *command: str, timeout: float = 1200) -> str:
        result = self.exec(*command, timeout=timeout)
        assert result.returncode == 0, (
            f"`{' '.join(command)}` in the dev container failed (exit {result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
        return result.stdout


def run_cli(
    arguments: Sequence[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    command = [str(CLI), *arguments]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def copy_checkout(destination: Path, deps_source: str | None) -> None:
    """The checkout's files as git sees them (committed or not, never ignored ones), as a repo."""
    copy_checkout_files(destination)
    if deps_source == "wheelhouse":
        # The image installs offline from it; hard links spare copying a few hundred MB.
        docker.copy_wheelhouse(destination / ".hangar" / "wheelhouse")
    identity = {"GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@hangar.invalid"}
    identity |= {"GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@hangar.invalid"}
    git_env = {**os.environ, **identity}
    for command in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "copy"]):
        subprocess.run(["git", *command], cwd=destination, env=git_env, check=True)


@pytest.fixture(scope="module")
def devcontainer(
    provisioned: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevContainer]:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: `make setup` installs the Dev Containers CLI")
    workspace = tmp_path_factory.mktemp("devcontainer") / "hangar"
    workspace.mkdir()
    copy_checkout(workspace, provisioned.get("DEPS_SOURCE"))
    stale = workspace / ".hangar" / "local.env"
    stale.parent.mkdir(exist_ok=True)
    # provision's choices, as in the developer's checkout (docs/dev.md): `make deploy` inside
    # builds the app image from the stand-ins they name.
    shutil.copy2(docker_client.COMPOSE_ENV_FILE, stale.parent / docker_client.COMPOSE_ENV_FILE.name)
    stale.write_text(f"{STALE_ENDPOINT}\n")
    # The dev image's user must own the workspace it writes to (provision's ids, as compose uses).
    uid = int(provisioned.get("USER_UID", DEV_IMAGE_DEFAULT_ID))
    gid = int(provisioned.get("USER_GID", DEV_IMAGE_DEFAULT_ID))
    for path in [workspace, *workspace.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)

    docker_client.app_dockerfile()  # APP_DOCKERFILE, the stand-in copy, is written on demand
    project = f"hangar-devc-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        **{name: provisioned[name] for name in BUILD_VARIABLES if name in provisioned},
        "COMPOSE_PROJECT_NAME": project,
        "HANGAR_DOCKER_GID": str(docker_client.DOCKER_SOCKET.stat().st_gid),
    }
    container = DevContainer(workspace, env, project)
    try:
        started = time.monotonic()
        result = run_cli(["up", "--workspace-folder", str(workspace)], env, UP_TIMEOUT)
        elapsed = time.monotonic() - started
        outcome = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout else {}
        assert outcome.get("outcome") == "success", (
            f"devcontainer up failed (exit {result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-6000:]}"
        )
        # For docs/benchmarks.md: build, compose up, make setup, make deploy-local.
        print(f"\n`devcontainer up` → ready, deployed container in {elapsed:.1f}s")
        yield container
    finally:
        container.compose("down", "--volumes", "--rmi=local")  # compose.yaml's grace periods


def test_post_start_replaced_the_stale_env_file_with_this_localstacks_stage(
    devcontainer: DevContainer,
) -> None:
    written = devcontainer.check("cat", ".hangar/local.env")
    assert STALE_ENDPOINT not in written
    assert "AWS_ENDPOINT_URL=http://localstack:4566" in written
    for variable in contract().env_from_outputs:
        assert f"{variable}=" in written, f"{variable} (a declared resource's) is not in local.env"


def test_the_declared_worker_runs_on_the_deployed_stage(devcontainer: DevContainer) -> None:
    """The worker exits while the stage is missing; compose's restart policy brings it back after
    the post-start deploy rewrote local.env, and then it stays up. Without a declared worker the
    service ends at once, cleanly, and compose leaves it stopped."""
    if contract().worker_command is None:
        state = devcontainer.worker_state()
        assert state is None or (state.status == "exited" and state.exit_code == 0), state
        return
    # One worker process up for WORKER_STEADY_SECONDS, after the post-start deploy (the fixture's
    # `devcontainer up` includes it): without the stage it would exit and compose start another.
    # Its start time says too little: under load one started just before local.env was rewritten
    # read the stage and stayed up (a fresh-clone run saw that).
    deadline = time.monotonic() + 180
    while True:
        state = devcontainer.worker_state()
        if state is not None and state.status == "running":
            time.sleep(WORKER_STEADY_SECONDS)
            if devcontainer.worker_state() == state:
                return
        assert time.monotonic() < deadline, f"the worker did not stay up on the stage: {state}"
        time.sleep(2)


def test_git_docker_and_the_cdk_cli_work_inside(devcontainer: DevContainer) -> None:
    assert devcontainer.check("git", "status", "--porcelain") == ""
    assert devcontainer.check("docker", "info", "--format", "{{.ServerVersion}}").strip()
    assert devcontainer.check("docker", "compose", "version", "--short").strip()
    assert devcontainer.check("node_modules/.bin/cdk", "--version").strip()
    assert devcontainer.check("node", "--version").strip() == f"v{NODE_VERSION}"


def test_cfn_lint_passes_the_stage_the_post_start_deploy_synthesized(
    devcontainer: DevContainer,
) -> None:
    """`make test-infra`'s template linter, under the container's venv (the layer itself runs on
    the host: the post-start deploy already synthesized the stage here, with cdk-nag)."""
    templates = "cdk.out/local/assembly-*-local/*.template.json"
    devcontainer.check("sh", "-c", f"cfn-lint --non-zero-exit-code error {templates}")


def test_make_test_unit_and_make_lint(devcontainer: DevContainer) -> None:
    """Both at once, as two terminals would: neither needs the other, and one after the other
    they were the longest stretch of the slowest module of `make test`.

    `make test-unit` runs the project's own tests here, with its coverage bar: what a team runs in
    its container. Hangar's unit tests (tests/unit) are deselected: the host's `make test` runs
    them, and here they were most of the module's longest step (docs/benchmarks.md)."""
    # A machine that declared it cannot reach the advisory services (.ci/run here) declares it in
    # its container too: make lint's audit asks them from inside.
    offline = os.environ.get("HANGAR_AUDIT_OFFLINE", "")
    declared = [f"HANGAR_AUDIT_OFFLINE={offline}"] if offline else []
    commands = {
        "test-unit": ["env", "PYTEST_ADDOPTS=--deselect tests/unit", "make", "test-unit"],
        "lint": ["env", *declared, "make", "lint"],
    }
    running = {target: devcontainer.start(*command) for target, command in commands.items()}
    for target, process in running.items():
        stdout, stderr = process.communicate(timeout=1800)
        assert process.returncode == 0, (
            f"`make {target}` in the dev container exited {process.returncode}:\n"
            f"{stdout[-4000:]}\n{stderr[-4000:]}"
        )


def test_make_test_integration_against_the_compose_localstack(devcontainer: DevContainer) -> None:
    """`make test-integration` under CI=true (nothing may skip), on the modules that prove the
    container's wiring: compose's LocalStack reused (LOCALSTACK_ENDPOINT) with the local stage in
    it, and a LocalStack of the test's own, started and stopped from the image's host-mode runtime
    (HANGAR_LOCALSTACK_VENV) on the container's loopback. The rest of the layer runs nothing else
    the container changes (the worker: the test above; the CDK app under the
    container's venv: the post-start `make deploy-local`, which synthesizes the stage and runs
    cdk-nag in it), and the whole of it took 881 s here under contention, a 5-module subset 141 s
    on an idle machine; `make test` runs all of it on the host."""
    # The dev worker consumes the stage's queue too; the queue tests must be its only consumer
    # (docs/dev.md says so to the VS Code user).
    stopped = devcontainer.compose("stop", "worker")
    assert stopped.returncode == 0, stopped.stderr
    try:
        started = time.monotonic()
        select = f"PYTEST_ADDOPTS=-k '{' or '.join(WIRING_MODULES)}'"
        output = devcontainer.check(
            "env", "CI=true", select, "make", "test-integration", timeout=2400
        )
        print(f"\n`make test-integration` in the dev container: {time.monotonic() - started:.1f}s")
    finally:
        devcontainer.compose("start", "worker")
    assert "LocalStack: http://localstack:4566 answers; the tests reuse it" in output
    assert " passed" in output.splitlines()[-1]
    assert "skipped" not in output.splitlines()[-1]


def test_the_attach_launch_configuration_debugs_the_web_process(devcontainer: DevContainer) -> None:
    script = (*IN_PROJECT, "python", "-c", ATTACH_SCRIPT)
    outcome = json.loads(devcontainer.check(*script).splitlines()[-1])
    assert outcome["held"] is True, f"the request must wait at the breakpoint {outcome['where']}"
    assert outcome["status"] in {200, 503}, "the request must finish after `continue`"


# Run in the worker container: what any process on the compose network gets from web's debugpy.
CONNECT_TO_DEBUGPY = """
import errno, socket
with socket.socket() as probe:
    probe.settimeout(10)
    print(errno.errorcode.get(probe.connect_ex(("web", 5678)), "connected"))
"""


def test_debugpy_is_out_of_reach_of_the_other_containers(devcontainer: DevContainer) -> None:
    """It listens on web's loopback (the attach test above reaches it from inside web); from the
    compose network, beside a container holding the host's Docker socket, the port is closed."""
    result = devcontainer.compose("exec", "-T", "worker", "python", "-c", CONNECT_TO_DEBUGPY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ECONNREFUSED"
