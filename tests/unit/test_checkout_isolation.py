"""Two checkouts on one machine: each its own compose project, and a taken port names its owner.

The e2e proof with two real checkouts side by side is tests/e2e/test_two_checkouts.py.
"""

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml
from test_dev_listeners import environment, rendered

from hangar.core import docker_client, ports
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.deploy import run_task, task_docker
from hangar.devloop import doctor
from hangar.localstack.commands import ensure_running

# What compose accepts as a project name (docker compose's own rule).
COMPOSE_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
NO_OVERRIDE: dict[str, str] = {}


def test_two_checkouts_get_two_projects_and_one_checkout_always_the_same(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "hangar", tmp_path / "b" / "hangar"  # same folder name
    names = {docker_client.compose_project(path, NO_OVERRIDE) for path in (first, second)}
    assert len(names) == 2, names
    assert docker_client.compose_project(first, NO_OVERRIDE) == docker_client.compose_project(
        tmp_path / "a" / ".." / "a" / "hangar", NO_OVERRIDE
    )


@pytest.mark.parametrize(
    "folder", ["hangar", "feature/Big Change", "ÜBER_repo.git", "---", "x" * 80, "worktree-2"]
)
def test_the_name_is_a_valid_compose_project_led_by_the_service(
    tmp_path: Path, folder: str
) -> None:
    name = docker_client.compose_project(tmp_path / folder, NO_OVERRIDE)
    assert COMPOSE_PROJECT_NAME.match(name), name
    assert name.startswith(f"{contract().service_name}-")
    assert len(name) <= 50, name


def test_the_folder_makes_the_name_readable_unless_it_repeats_the_service(tmp_path: Path) -> None:
    service = contract().service_name
    worktree = docker_client.compose_project(tmp_path / "Checkout Isolation", NO_OVERRIDE)
    assert re.fullmatch(rf"{service}-checkout-isolation-[0-9a-f]{{6}}", worktree), worktree
    clone = docker_client.compose_project(tmp_path / service, NO_OVERRIDE)
    assert re.fullmatch(rf"{service}-[0-9a-f]{{6}}", clone), clone


def test_compose_project_name_from_the_environment_wins(tmp_path: Path) -> None:
    # The dev container's CLI and the tests' throwaway projects name theirs.
    chosen = {docker_client.PROJECT_NAME_VARIABLE: "hangar-devc-1"}
    assert docker_client.compose_project(tmp_path, chosen) == "hangar-devc-1"


def test_every_compose_command_names_this_checkouts_project(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(docker_client.PROJECT_NAME_VARIABLE, raising=False)
    command = docker_client.compose_command()
    assert command[-2:] == ["--project-name", docker_client.compose_project(ROOT)]


def test_compose_yaml_fixes_no_project_name() -> None:
    """A `name:` there would put every checkout into one project again (compose reads it when
    no `--project-name` is given: the dev container, a bare `docker compose`)."""
    assert "name" not in yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_the_dev_container_passes_its_project_to_the_cli_inside(compose_cli: list[str]) -> None:
    """The Dev Containers CLI names the project (`--project-name`); web's environment carries
    that name, so the hangar CLI in there works on the dev container's own project."""
    files = [ROOT / "compose.yaml", ROOT / ".devcontainer" / "compose.devcontainer.yaml"]
    env = environment()
    config = rendered([*compose_cli, "--project-name", "hangar-devc-1"], files, env)
    assert config["services"]["web"]["environment"]["COMPOSE_PROJECT_NAME"] == "hangar-devc-1"
    env.pop(docker_client.PROJECT_NAME_VARIABLE, None)
    unnamed = rendered(compose_cli, files, env)  # as compose names it for itself: the folder
    assert unnamed["name"] == re.sub(r"[^a-z0-9_-]", "", ROOT.name.lower())
    assert unnamed["services"]["web"]["environment"]["COMPOSE_PROJECT_NAME"] == unnamed["name"]


def test_run_task_works_on_this_checkouts_project_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(docker_client.PROJECT_NAME_VARIABLE, raising=False)
    options = run_task.Options(stage="local")
    assert options.compose_project == docker_client.compose_project(ROOT)
    name = task_docker.container_name(options.compose_project, "web")
    assert name == f"{docker_client.compose_project(ROOT)}-run-task-web"
    assert task_docker.runtime_image_tag() == f"{docker_client.compose_project(ROOT)}-runtime:local"


def test_make_run_task_passes_port() -> None:
    dry_run = subprocess.run(
        ["make", "--dry-run", "--always-make", "run-task", "PORT=8123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "run-task --stage local  --port 8123" in dry_run
    default = subprocess.run(
        ["make", "--dry-run", "--always-make", "run-task"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--port" not in default  # the CLI's default, 8080
    assert run_task.DEFAULT_PORT == 8080


# --- the port's owner ---------------------------------------------------------------------------


@pytest.fixture
def held_by_another_process() -> Iterator[tuple[int, int]]:
    """A loopback port a separate Python process listens on; (port, that process's pid)."""
    listener = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "print(s.getsockname()[1], flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None
        yield int(listener.stdout.readline()), listener.pid
    finally:
        listener.kill()
        listener.wait()


def test_a_port_held_by_another_process_names_it_in_one_line(
    held_by_another_process: tuple[int, int],
) -> None:
    port, pid = held_by_another_process
    with pytest.raises(HangarError) as error:
        ports.ensure_free({port: "web: Django dev server"}, "set HANGAR_WEB_PORT")
    message = error.value.message
    assert message.startswith(
        f"port {port} (web: Django dev server) is already in use by pid {pid}: "
    )
    assert "time.sleep(600)" in message  # its command line
    assert "\n" not in message
    assert "HANGAR_WEB_PORT" in str(error.value.hint)


def test_another_checkouts_container_is_named_with_its_project_and_checkout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(docker_client.PROJECT_NAME_VARIABLE, raising=False)
    other = ports.Container("hangar-main-3f2a9c-localstack-1", "hangar-main-3f2a9c", "/src/main")
    assert other.describe() == (
        "container hangar-main-3f2a9c-localstack-1 "
        "(the checkout /src/main's compose project hangar-main-3f2a9c)"
    )
    assert other.how_to_stop() == (
        "`make down` in /src/main or `docker compose -p hangar-main-3f2a9c down`"
    )
    ours = ports.Container("x-web-1", docker_client.compose_project(ROOT), str(ROOT))
    assert "this checkout's compose project" in ours.describe()
    task = ports.Container("hangar-main-3f2a9c-run-task-web", "", "")
    assert task.how_to_stop() == "`docker rm --force hangar-main-3f2a9c-run-task-web`"


class _LocalStackHealth(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"services": {"s3": "running"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("whose", ["another checkout's", "this checkout's"])
def test_localstack_up_reuses_only_this_checkouts_localstack(
    monkeypatch: pytest.MonkeyPatch,
    serve_http: Callable[[type[BaseHTTPRequestHandler]], int],
    whose: str,
) -> None:
    """Another checkout's LocalStack answering on the port is refused, naming it: this checkout's
    deploy-local would replace that checkout's stage. The engine that would say whose container
    publishes the port cannot run in a unit test: its answer is given here, and
    tests/e2e/test_two_checkouts.py asks a real one."""
    port = serve_http(_LocalStackHealth)
    monkeypatch.setenv("HANGAR_LOCALSTACK_PORT", str(port))
    for name in ("LOCALSTACK_ENDPOINT", docker_client.PROJECT_NAME_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    project = (
        "hangar-main-3f2a9c" if whose == "another checkout's" else docker_client.compose_project()
    )
    container = ports.Container(f"{project}-localstack-1", project, "/src/main")
    monkeypatch.setattr(ports, "publishing_container", lambda _port: container)
    if whose == "this checkout's":
        reused = ensure_running()
        assert (reused.endpoint, reused.started_by_us) == (f"http://127.0.0.1:{port}", False)
        return
    with pytest.raises(HangarError) as error:
        ensure_running()
    assert error.value.message == (
        f"port {port} (LocalStack) is already in use by container {project}-localstack-1 "
        f"(the checkout /src/main's compose project {project})"
    )
    assert f"`make down` in /src/main or `docker compose -p {project} down`" in str(
        error.value.hint
    )
    assert "HANGAR_LOCALSTACK_PORT=" in str(error.value.hint)


def test_doctor_fails_a_port_another_checkouts_container_holds(
    monkeypatch: pytest.MonkeyPatch, listening_port: int
) -> None:
    """As `localstack up` and `make dev` refuse it; the engine's answer is given, as above."""
    other = ports.Container("hangar-main-3f2a9c-web-1", "hangar-main-3f2a9c", "/src/main")
    monkeypatch.setattr(ports, "publishing_container", lambda _port: other)
    result = doctor.check_port(listening_port, "Django", env={})
    assert (result.status, result.detail) == (
        "fail",
        "Django's port is taken by container hangar-main-3f2a9c-web-1 "
        "(the checkout /src/main's compose project hangar-main-3f2a9c)",
    )
    assert result.fix == (
        "`make down` in /src/main or `docker compose -p hangar-main-3f2a9c down`, "
        "or move Django to another port"
    )
