"""`hangar dev` without starting anything: mode choice, environment, session files, refusals."""

import argparse
import contextlib
import dataclasses
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from test_dev_listeners import COMPOSE_FILE, rendered

from hangar.core import ports
from hangar.core.errors import HangarError
from hangar.core.paths import DEV_ENV_FILE, DEV_ENV_FILE_VARIABLE
from hangar.core.processes import ProcessRecord
from hangar.devloop import dev, dev_superuser
from hangar.devloop.debug_server import (
    ServerAddress,
    dev_server_for,
    server_command,
    wait_for_client,
)
from hangar.devloop.in_project import MANAGE_PY

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")


def never_called() -> bool:
    raise AssertionError("Docker was probed although the answer was already known")


class TestChooseMode:
    def test_docker_when_engine_and_compose_file(self) -> None:
        choice = dev.choose_mode(None, compose_file_exists=True, docker_usable=lambda: True)
        assert choice.mode == "docker"

    def test_host_without_engine_says_why(self) -> None:
        choice = dev.choose_mode(None, compose_file_exists=True, docker_usable=lambda: False)
        assert choice.mode == "host"
        assert "no Docker engine" in choice.reason

    def test_host_without_compose_file_does_not_probe_docker(self) -> None:
        choice = dev.choose_mode(None, compose_file_exists=False, docker_usable=never_called)
        assert (choice.mode, choice.reason) == ("host", "compose.yaml not found")

    @pytest.mark.parametrize("forced", ["host", "docker"])
    def test_forced_mode_wins(self, forced: str) -> None:
        choice = dev.choose_mode(forced, compose_file_exists=False, docker_usable=never_called)
        assert choice.mode == forced
        assert "HANGAR_DEV_MODE" in choice.reason

    def test_unknown_forced_mode_is_refused(self) -> None:
        with pytest.raises(HangarError, match="'podman' is not a mode") as error:
            dev.choose_mode("podman", compose_file_exists=True, docker_usable=never_called)
        assert "host, docker" in str(error.value.hint)


class TestHostEnvironment:
    def test_forces_development_and_localstack_credentials(self) -> None:
        base = {
            "DJANGO_ENV": "production",
            "AWS_ACCESS_KEY_ID": "AKIAREAL",
            "AWS_SESSION_TOKEN": "real",
            "AWS_PROFILE": "prod",
            "DATABASE_URL": "postgres://x",
        }
        env = dev.host_environment(base, with_aws=True)
        assert env["DJANGO_ENV"] == "development"
        assert env["DJANGO_DEBUG"] == "true"
        assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("test", "test")
        assert "AWS_SESSION_TOKEN" not in env
        assert "AWS_PROFILE" not in env
        assert env["DATABASE_URL"] == "postgres://x"
        assert base["AWS_ACCESS_KEY_ID"] == "AKIAREAL", "the caller's mapping was modified"

    def test_the_projects_dev_env_file_applies_unless_the_shell_says_otherwise(
        self, tmp_path: Path
    ) -> None:
        dev_env = tmp_path / "dev.env"
        dev_env.write_text("# make dev alone\nSIGNUPS_OPEN=true\n\n CACHE_BACKEND = locmem\n")
        chosen = {DEV_ENV_FILE_VARIABLE: str(dev_env)}
        env = dev.host_environment(chosen, with_aws=False)
        assert (env["SIGNUPS_OPEN"], env["CACHE_BACKEND"]) == ("true", "locmem")
        shell = dev.host_environment({**chosen, "SIGNUPS_OPEN": "false"}, with_aws=False)
        assert shell["SIGNUPS_OPEN"] == "false"
        assert "SIGNUPS_OPEN" not in dev.host_environment(
            {DEV_ENV_FILE_VARIABLE: os.devnull}, with_aws=False
        )

    def test_without_a_choice_the_dev_env_file_is_the_projects(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The path compose.yaml reads too: dev.env beside pyproject.toml."""
        monkeypatch.setattr(dev, "ROOT", tmp_path)
        (tmp_path / DEV_ENV_FILE.name).write_text("SIGNUPS_OPEN=true\n")
        assert dev.host_environment({}, with_aws=False)["SIGNUPS_OPEN"] == "true"
        assert dev.host_environment({DEV_ENV_FILE_VARIABLE: ""}, with_aws=False)["SIGNUPS_OPEN"]

    def test_compose_gives_the_app_services_the_dev_env_file_and_the_test_stacks_none(
        self, compose_cli: list[str], tmp_path: Path
    ) -> None:
        dev_env = tmp_path / "dev.env"
        dev_env.write_text("SIGNUPS_OPEN=true\n")
        files = [COMPOSE_FILE]
        base = {**os.environ, "COMPOSE_PROFILES": "worker"}
        chosen = rendered(compose_cli, files, {**base, DEV_ENV_FILE_VARIABLE: str(dev_env)})
        app_services = {"web", "worker", "migrate"}
        assert app_services <= set(chosen["services"])
        for name in app_services:
            assert chosen["services"][name]["environment"]["SIGNUPS_OPEN"] == "true", name
        tests = rendered(compose_cli, files, {**base, DEV_ENV_FILE_VARIABLE: os.devnull})
        for name in app_services:
            assert "SIGNUPS_OPEN" not in tests["services"][name]["environment"], name

    def test_the_settings_module_is_the_contracts_unless_the_shell_chose_one(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        adopted = dataclasses.replace(dev.contract(), settings_module="shop_site.settings")
        monkeypatch.setattr(dev, "contract", lambda: adopted)
        env = dev.host_environment({}, with_aws=False)
        assert env["DJANGO_SETTINGS_MODULE"] == "shop_site.settings"
        chosen = dev.host_environment({"DJANGO_SETTINGS_MODULE": "shop_site.ci"}, with_aws=False)
        assert chosen["DJANGO_SETTINGS_MODULE"] == "shop_site.ci"

    def test_without_aws_leaves_credentials_alone(self) -> None:
        env = dev.host_environment({"AWS_PROFILE": "mine"}, with_aws=False)
        assert env["AWS_PROFILE"] == "mine"
        assert "AWS_ACCESS_KEY_ID" not in env

    def test_database_description(self) -> None:
        assert "DATABASE_URL is not set" in dev.describe_database({})
        assert dev.describe_database({"DATABASE_URL": "postgres://h/db"}).startswith("DATABASE_URL")


class TestRunserverCommand:
    def test_listens_where_asked_and_runs_the_autoreloading_server(self) -> None:
        everywhere = "0.0.0.0"  # noqa: S104 - the container binds all interfaces
        address = ServerAddress(host=everywhere, port=8001, debug_host=everywhere, debug_port=5679)
        command = server_command(address, "runserver", python="python")
        assert command[command.index("--listen") + 1] == "0.0.0.0:5679"
        assert command[-3:] == ["manage.py", "runserver", "0.0.0.0:8001"]
        assert "--noreload" not in command
        assert "--wait-for-client" not in command

    def test_wait_for_client(self) -> None:
        assert "--wait-for-client" in server_command(ServerAddress(), "runserver", wait=True)
        assert "--wait-for-client" in server_command(ServerAddress(), wait=True)

    def test_make_dev_runs_the_forking_devserver_under_debugpy(self) -> None:
        address = ServerAddress(port=8001, debug_port=5679)
        command = server_command(address, python="python")
        assert command[command.index("--listen") + 1] == "127.0.0.1:5679"
        assert command[-3:] == ["-m", "hangar.devloop.devserver", "127.0.0.1:8001"]

    def test_without_the_debugger_the_same_server_runs_bare(self) -> None:
        command = server_command(ServerAddress(port=8001), python="python", debug=False)
        assert command == ["python", "-m", "hangar.devloop.devserver", "127.0.0.1:8001"]

    @pytest.mark.parametrize(
        ("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False)]
    )
    def test_debugpy_wait_variable(self, value: str, expected: bool) -> None:
        assert wait_for_client({"DEBUGPY_WAIT": value}) is expected


@pytest.fixture
def dev_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "dev"
    directory.mkdir()
    monkeypatch.setenv("HANGAR_DEV_DIR", str(directory))
    return directory


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that looks like a dev server child (its argv names manage.py)."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "manage.py"],
        start_new_session=True,
    )
    yield process  # Popen returns once exec has replaced the forked copy of this process
    process.kill()
    process.wait()


def record(process: subprocess.Popen[bytes]) -> str:
    return ProcessRecord.of(process.pid).dumps()


class TestSessionFiles:
    def test_running_children_skips_dead_garbage_and_reused_pids(
        self, dev_dir: Path, sleeper: subprocess.Popen[bytes]
    ) -> None:
        live = ProcessRecord.of(sleeper.pid)
        (dev_dir / "web.pid").write_text(live.dumps())
        (dev_dir / "worker.pid").write_text("not a pid\n")
        (dev_dir / "plain.pid").write_text(f"{sleeper.pid}\n")  # a pid alone proves nothing
        (dev_dir / "reused.pid").write_text(
            dataclasses.replace(live, started=live.started - 60).dumps()
        )
        finished = subprocess.Popen(["true"])
        finished.wait()
        (dev_dir / "dead.pid").write_text(dataclasses.replace(live, pid=finished.pid).dumps())
        assert dev.running_children() == {"web": sleeper.pid}

    def test_down_stops_the_recorded_children(
        self, dev_dir: Path, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
    ) -> None:
        (dev_dir / "web.pid").write_text(record(sleeper))
        dev.write_session(mode="host", web_port=8000, debug_port=5678, localstack_started=False)
        # A detached session's children belong to another process (init, once `hangar dev
        # --detach` exited), which reaps them: this test's reaper plays that part.
        reaper = threading.Thread(target=sleeper.wait, daemon=True)
        reaper.start()
        assert dev.cmd_down(argparse.Namespace(volumes=False)) == 0
        reaper.join(timeout=5)
        assert sleeper.returncode == -15
        assert not list(dev_dir.iterdir())
        shown = capsys.readouterr().out
        assert f"Stop web pid {sleeper.pid}" in shown
        assert "killed" not in shown

    def test_down_never_signals_a_pid_another_process_now_holds(
        self, dev_dir: Path, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The pid file names the sleeper's pid, but another start time or command line: the pid
        was reused (after a reboot, say). `down` forgets the file and leaves the process alone."""
        live = ProcessRecord.of(sleeper.pid)
        (dev_dir / "web.pid").write_text(
            dataclasses.replace(live, started=live.started - 3600).dumps()
        )
        (dev_dir / "worker.pid").write_text(
            dataclasses.replace(live, cmdline=("python", "manage.py", "consume")).dumps()
        )
        assert dev.cmd_down(argparse.Namespace(volumes=False)) == 0
        assert sleeper.poll() is None, "a process `hangar dev` did not start was signalled"
        assert not list(dev_dir.glob("*.pid"))
        assert "nothing from `make dev` was running" in capsys.readouterr().out

    def test_corrupt_session_file_names_the_file(self, dev_dir: Path) -> None:
        (dev_dir / "session.json").write_text("{")
        with pytest.raises(HangarError, match=r"session\.json is not valid JSON"):
            dev.read_session()

    def test_tail_prefixes_each_log(self, tmp_path: Path) -> None:
        (tmp_path / "web.log").write_text("one\ntwo\n")
        (tmp_path / "worker.log").write_text("three\n")
        logs = sorted(tmp_path.glob("*.log"))
        assert list(dev.tail(logs, follow=False, lines=1)) == ["web    | two\n", "worker | three\n"]


def run_dev(*arguments: str) -> int:
    """Parse and run like the CLI does, with only this module's commands registered."""
    parser = argparse.ArgumentParser(prog="hangar")
    dev.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(arguments)
    return int(args.func(args))


class TestRefusals:
    def test_taken_port_is_named_before_anything_starts(
        self,
        dev_dir: Path,
        listening_port: int,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("HANGAR_DEV_MODE", "host")
        monkeypatch.setenv("HANGAR_WEB_PORT", str(listening_port))
        with pytest.raises(HangarError) as error:
            run_dev("dev", "--without-aws")
        expected = (
            f"port {listening_port} (Django dev server) is already in use by pid {os.getpid()}"
        )
        assert expected in error.value.message
        assert "HANGAR_WEB_PORT=8001" in str(error.value.hint)
        assert "Apply database migrations" not in capsys.readouterr().out
        assert not list(dev_dir.iterdir()), "a refused start left files behind"

    def test_running_session_is_not_started_twice(
        self, dev_dir: Path, sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HANGAR_DEV_MODE", "host")
        (dev_dir / "web.pid").write_text(record(sleeper))
        with pytest.raises(HangarError, match=f"already running \\(web pid {sleeper.pid}\\)"):
            run_dev("dev")

    def test_bad_mode_variable(self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HANGAR_DEV_MODE", "vm")
        with pytest.raises(HangarError, match="HANGAR_DEV_MODE='vm' is not a mode"):
            run_dev("dev")

    def test_bad_port_variable(self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HANGAR_DEV_MODE", "host")
        monkeypatch.setenv("HANGAR_WEB_PORT", "eighty")
        with pytest.raises(HangarError, match="HANGAR_WEB_PORT='eighty' is not a TCP port"):
            run_dev("dev")


def test_host_mode_runs_the_contracts_worker_with_this_environments_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, *arguments = dev.contract().worker_command or ()
    assert dev.host_worker_command() == [sys.executable, *arguments]
    no_worker = dataclasses.replace(dev.contract(), queues=())
    monkeypatch.setattr(dev, "contract", lambda: no_worker)
    assert dev.host_worker_command() is None


def wait_for(condition: Callable[[], bool], deadline: float = 30.0) -> None:
    """Until `condition` holds: a generous deadline for a loaded machine."""
    give_up = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < give_up, f"{condition} did not hold within {deadline:.0f}s"
        time.sleep(0.05)


COMPOSE_CONFIG: dict[str, dict[str, object]] = {
    "services": {name: {} for name in ("db", "localstack", "migrate", "web", "worker")}
}


def start_in_docker_mode(
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, dict[str, object]],
    *,
    deploy: object = None,
    running: frozenset[str] = frozenset(),
    events: list[object] | None = None,
    first_start: bool = False,
) -> list[object]:
    """`hangar dev --detach` in docker mode with compose and the deploy replaced by recorders;
    returns (or records into `events`) what ran, in order."""
    events = [] if events is None else events

    @contextlib.contextmanager
    def in_background(arguments: list[str], env: object, **_: object) -> Iterator[None]:
        events.append(("background", *arguments))
        yield
        events.append(("waited", *arguments))

    def compose_run(*arguments: str, **_: object) -> None:
        events.append(("compose", *arguments))

    monkeypatch.setenv("HANGAR_DEV_MODE", "docker")
    monkeypatch.setattr(dev.localstack_docker, "docker_usable", lambda: True)
    monkeypatch.setattr(dev, "running_services", lambda: set(running))
    monkeypatch.setattr(dev, "compose_config", lambda: config)
    monkeypatch.setattr(dev, "has_database_volume", lambda env, config: not first_start)
    monkeypatch.setattr(dev, "images_to_build", lambda config: [])
    monkeypatch.setattr(
        dev, "start_localstack", lambda mode: SimpleNamespace(endpoint="http://ls:4566")
    )
    monkeypatch.setattr(dev, "deploy_stack", deploy or (lambda endpoint: events.append("deploy")))
    monkeypatch.setattr(dev, "in_background", in_background)
    monkeypatch.setattr(dev, "compose_run", compose_run)
    monkeypatch.setattr(dev, "wait_for_migrate", lambda env: events.append("migrated"))
    monkeypatch.setattr(dev, "wait_until_serving", lambda address: events.append("serving"))
    monkeypatch.setattr(dev, "service_states", lambda: events.append("services checked") or [])
    monkeypatch.setenv("HANGAR_WEB_PORT", str(ports.spare_port()))
    monkeypatch.setenv("HANGAR_DEBUG_PORT", str(ports.spare_port()))
    assert run_dev("dev", "--detach") == 0
    return events


class TestDockerModeOrder:
    """What a docker-mode start runs when, with compose and the deploy replaced by recorders
    (`make bench`'s dev-docker measurement runs the real thing)."""

    def test_db_and_migrate_start_during_the_deploy_web_and_worker_after_it(
        self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        events = start_in_docker_mode(monkeypatch, COMPOSE_CONFIG)

        independent = ("up", "--detach", "--wait", "db", "localstack", "migrate")
        superuser = ("exec", "-T", "web", *MANAGE_PY, *dev_superuser.manage_arguments())
        assert events == [
            ("background", *independent),
            "deploy",
            ("waited", *independent),
            "migrated",
            ("compose", "up", "--detach", "--no-deps", "web", "worker"),
            ("background", *superuser),
            "serving",
            ("waited", *superuser),
            "services checked",
        ]

    def interrupted_deploy(self, endpoint: str) -> None:
        raise KeyboardInterrupt

    def test_a_ctrl_c_during_the_start_up_takes_down_what_it_started(
        self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        events: list[object] = []
        with pytest.raises(KeyboardInterrupt):
            start_in_docker_mode(
                monkeypatch, COMPOSE_CONFIG, deploy=self.interrupted_deploy, events=events
            )
        independent = ("up", "--detach", "--wait", "db", "localstack", "migrate")
        # What holds nothing is killed side by side; the database alone stops gracefully.
        assert events == [
            ("background", *independent),
            ("compose", "kill", "localstack", "migrate", "web", "worker"),
            ("compose", "down", "--timeout", "4"),
        ]

    def test_a_refused_kill_does_not_stop_the_teardown(
        self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """compose refuses to kill a container that is created but not yet running (`make bench`
        saw it leave db, LocalStack and the network): the down runs all the same."""
        events: list[object] = []

        def refusing_kill(*arguments: str, **options: object) -> None:
            events.append(("compose", *arguments))
            if arguments[0] == "kill":
                raise HangarError("`docker compose kill web` failed (exit 1)")

        monkeypatch.setattr(dev, "compose_run", refusing_kill)
        dev._take_down_interrupted_start({}, ["db", "web"], first_start=False)
        assert events == [("compose", "kill", "web"), ("compose", "down", "--timeout", "4")]

    def test_a_ctrl_c_during_a_first_start_kills_the_empty_database_and_its_volumes_go(
        self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The project had no volume: the database was initialising an empty one, which its
        entrypoint does deaf to a stop signal, and the next start would find it half made."""
        events: list[object] = []
        with pytest.raises(KeyboardInterrupt):
            start_in_docker_mode(
                monkeypatch,
                COMPOSE_CONFIG,
                deploy=self.interrupted_deploy,
                events=events,
                first_start=True,
            )
        assert events[-2:] == [
            ("compose", "kill", "db", "localstack", "migrate", "web", "worker"),
            ("compose", "down", "--timeout", "4", "--volumes"),
        ]

    def test_a_ctrl_c_during_the_start_up_leaves_containers_that_ran_before(
        self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        events: list[object] = []
        with pytest.raises(KeyboardInterrupt):
            start_in_docker_mode(
                monkeypatch,
                COMPOSE_CONFIG,
                deploy=self.interrupted_deploy,
                running=frozenset({"web", "db"}),
                events=events,
            )
        composed = [event for event in events if isinstance(event, tuple) and event[0] == "compose"]
        assert all(event[1] == "up" for event in composed), composed

    def test_an_app_without_a_worker_starts_web_alone_after_the_deploy(
        self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # compose's `worker` profile is off without a worker command: config lists no worker.
        config: dict[str, dict[str, object]] = {
            "services": {name: {} for name in ("db", "localstack", "migrate", "web")}
        }
        events = start_in_docker_mode(monkeypatch, config)
        assert ("compose", "up", "--detach", "--no-deps", "web") in events

    def test_a_background_command_that_fails_fails_the_start_after_the_body(
        self, dev_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        failing = [sys.executable, "-c", "import sys; print('db: unhealthy'); sys.exit(3)"]
        monkeypatch.setattr(dev, "compose", lambda *arguments: failing)
        body: list[str] = []
        with pytest.raises(HangarError) as error, dev.in_background(["up", "db"], os.environ):
            body.append("deployed")
        assert body == ["deployed"], "the deploy runs whatever the background command does"
        assert "`docker compose up db` failed (exit 3)" in error.value.message
        assert "db: unhealthy" in error.value.message

    def test_an_interrupted_background_command_is_stopped_with_its_children(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`docker compose` is the docker CLI and the compose plugin, its child: stopping the CLI
        alone left the plugin starting containers while the teardown's `compose down` ran."""
        spawned = tmp_path / "child.pid"
        parent = (
            "import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(spawned)!r}, 'w').write(str(child.pid))\n"
            "time.sleep(60)\n"
        )
        monkeypatch.setattr(dev, "compose", lambda *arguments: [sys.executable, "-c", parent])

        def interrupted_once_spawned() -> None:
            with dev.in_background(["up", "db"], os.environ):
                wait_for(spawned.exists)
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            interrupted_once_spawned()
        child = psutil.Process(int(spawned.read_text()))
        wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE)

    def test_serving_is_seen_as_soon_as_healthz_answers(self) -> None:
        class Healthz(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/healthz" else 404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            dev.wait_until_serving(ServerAddress(port=server.server_address[1]), timeout=10)
        finally:
            server.shutdown()

    def test_a_web_container_that_stopped_is_named_instead_of_waited_for(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(dev, "running_services", set)
        monkeypatch.setattr(dev, "WEB_STATE_CHECK_SECONDS", 0.0)
        started = time.monotonic()
        with pytest.raises(HangarError, match="the web container stopped during start-up"):
            dev.wait_until_serving(ServerAddress(port=ports.spare_port()), timeout=60)
        assert time.monotonic() - started < 30


# `docker compose` as a failed migrate leaves it: `up --wait` names only the exit status.
FAILED_MIGRATE_COMPOSE = """
import json, sys
command = sys.argv[1]
if command == "up" and UP_FAILS:
    print("container hangar-migrate-1 exited (1)")
    sys.exit(1)
if command == "ps":
    print(json.dumps({"Service": "migrate", "State": "exited", "ExitCode": 1}))
if command == "logs":
    print("\x1b[2KTraceback (most recent call last):")
    print(LAST_LINE)
"""


class TestFailedMigrate:
    """compose's migrate exits 1 during the start-up: the error shows its last lines, since the
    containers, its log with them, may be gone by the time anyone asks (a test's teardown was)."""

    def start(self, monkeypatch: pytest.MonkeyPatch, compose_script: str) -> HangarError:
        monkeypatch.setattr(
            dev, "compose", lambda *args: [sys.executable, "-c", compose_script, *args]
        )
        monkeypatch.setattr(dev, "images_to_build", lambda config: [])
        monkeypatch.setattr(
            dev, "start_localstack", lambda mode: SimpleNamespace(endpoint="http://ls:4566")
        )
        monkeypatch.setattr(dev, "deploy_stack", lambda endpoint: None)
        with pytest.raises(HangarError) as error:
            dev._start_containers(ServerAddress(port=8000), dict(os.environ), COMPOSE_CONFIG)
        return error.value

    def migrate_failing_with(
        self, monkeypatch: pytest.MonkeyPatch, last_line: str, *, up_fails: bool = True
    ) -> HangarError:
        script = FAILED_MIGRATE_COMPOSE.replace("LAST_LINE", repr(last_line))
        return self.start(monkeypatch, script.replace("UP_FAILS", str(up_fails)))

    def test_its_last_lines_and_what_to_do_are_shown(self, monkeypatch: pytest.MonkeyPatch) -> None:
        error = self.migrate_failing_with(
            monkeypatch, "django.db.utils.ProgrammingError: relation exists"
        )
        assert "compose's `migrate` service failed" in error.message
        assert "  | django.db.utils.ProgrammingError: relation exists" in error.message
        assert "\x1b" not in error.message, "compose's terminal codes are left out"
        assert error.hint is not None
        assert "fix what migrate reports" in error.hint

    def test_a_volume_without_its_database_is_named_with_the_reset(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        error = self.migrate_failing_with(
            monkeypatch,
            'django.db.utils.OperationalError: connection to server at "db" (172.18.0.3), '
            'port 5432 failed: FATAL:  database "hangar" does not exist',
        )
        assert 'FATAL:  database "hangar" does not exist' in error.message
        assert error.hint is not None
        assert "`hangar down --volumes`" in error.hint

    def test_a_migrate_failing_after_up_returned_stops_the_start_before_web(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`up --wait` returns once migrate runs: seen with a half-made volume, where migrate
        failed seconds later, web started anyway and the start ended 120 s later on web's
        health check. Its pg_hba.conf had no entry yet for other containers."""
        error = self.migrate_failing_with(
            monkeypatch,
            "django.db.utils.OperationalError: connection failed: connection to server at "
            '"192.168.0.3", port 5432 failed: FATAL:  no pg_hba.conf entry for host "192.168.0.4"',
            up_fails=False,
        )
        assert "no pg_hba.conf entry" in error.message
        assert error.hint is not None
        assert "`hangar down --volumes`" in error.hint

    def test_another_failure_of_up_keeps_its_own_error(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # `up` fails for another reason and nothing answers `ps` as compose would: up's error
        error = self.start(monkeypatch, "import sys; print('db: unhealthy'); sys.exit(1)")
        assert "db: unhealthy" in error.message


class TestReloaderPerPlatform:
    def test_linux_forks_a_warm_server_per_save(self) -> None:
        assert dev_server_for("linux")[0] == "devserver"

    def test_macos_runs_djangos_own_reloader_and_says_why(self) -> None:
        server, why = dev_server_for("darwin")
        assert server == "runserver"
        assert "CoreFoundation" in why

    def test_the_forking_parent_never_looks_up_proxies(self) -> None:
        """The child's first proxy lookup after a fork is what crashes on macOS: the parent's
        warm-up (boto3, botocore, storages, Django) must not make one before forking."""
        probe = (
            "import urllib.request\n"
            "def refuse(*args, **kwargs):\n"
            "    raise SystemExit('the parent looked up proxies')\n"
            "urllib.request.getproxies = refuse\n"
            "urllib.request.getproxies_environment = refuse\n"
            "from hangar.devloop import devserver\n"
            "devserver.warm_up()\n"
            "print('warm')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
        )
        assert result.stdout.strip() == "warm", result.stderr[-2000:]


# A stand-in for `docker compose` (no container is started here): records its argv and, for each
# `--env=NAME`, the value compose would hand the container (compose resolves a bare name from its
# own environment, as `docker compose exec --env` does).
RECORDING_COMPOSE = """\
import json, os, sys
names = [a.removeprefix("--env=") for a in sys.argv[1:] if a.startswith("--env=")]
json.dump({"argv": sys.argv[1:], "container_env": {n: os.environ.get(n) for n in names}},
          open(os.environ["RECORD"], "w"))
"""


class TestManagePassesVariables:
    """`make manage` in docker mode: createsuperuser --noinput's variables reach the container
    (they used to stay behind, and the user got an unusable password)."""

    def record(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *arguments: str
    ) -> dict[str, object]:
        record = tmp_path / "compose.json"
        monkeypatch.setenv("RECORD", str(record))
        monkeypatch.setattr(dev, "session_mode", lambda: "docker")
        monkeypatch.setattr(dev, "running_services", lambda: {"web"})
        monkeypatch.setattr(
            dev, "compose", lambda *args: [sys.executable, "-c", RECORDING_COMPOSE, *args]
        )
        assert run_dev(*arguments) == 0
        return dict(json.loads(record.read_text()))

    def test_djangos_superuser_variables_reach_the_container_by_name(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "pa55-word")
        monkeypatch.setenv("UNRELATED_HOST_SECRET", "not-for-the-container")

        seen = self.record(monkeypatch, tmp_path, "manage", "createsuperuser", "--noinput")

        assert seen["container_env"] == {
            "DJANGO_SUPERUSER_PASSWORD": "pa55-word",
            "DJANGO_SUPERUSER_USERNAME": "admin",
        }
        argv = seen["argv"]
        assert isinstance(argv, list)
        assert argv[-4:] == ["python", "manage.py", "createsuperuser", "--noinput"]
        assert not any("pa55-word" in argument for argument in argv)
        assert not any("UNRELATED_HOST_SECRET" in argument for argument in argv)

    def test_pass_env_names_more_and_nothing_else(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("STRIPE_API_KEY", "sk_test_x")
        monkeypatch.setenv("UNRELATED_HOST_SECRET", "not-for-the-container")
        for name in [name for name in os.environ if name.startswith("DJANGO_SUPERUSER_")]:
            monkeypatch.delenv(name)

        seen = self.record(monkeypatch, tmp_path, "manage", "--pass-env", "STRIPE_API_KEY", "check")

        assert seen["container_env"] == {"STRIPE_API_KEY": "sk_test_x"}

    @pytest.mark.parametrize(
        ("named", "message"),
        [("NOT_SET_ANYWHERE", "not set in this shell"), ("A=B", "not a variable name")],
    )
    def test_a_name_it_cannot_pass_is_refused_before_anything_runs(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, named: str, message: str
    ) -> None:
        monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
        monkeypatch.setattr(dev, "session_mode", lambda: "docker")
        monkeypatch.setattr(dev, "running_services", lambda: pytest.fail("compose was called"))
        with pytest.raises(HangarError, match=message):
            run_dev("manage", "--pass-env", named, "check")


class TestLongMigrate:
    """A migrate that runs long (a data migration, a lock it waits for) has no deadline, but the
    start says every MIGRATE_NOTICE_SECONDS that it still runs, and where its output is."""

    def wait(self, monkeypatch: pytest.MonkeyPatch, running_polls: int) -> list[str]:
        clock = [0.0]
        polls = iter([[{"State": "running"}]] * running_polls + [[{"State": "exited"}]])
        said: list[str] = []
        monkeypatch.setattr(dev, "migrate_rows", lambda env: next(polls))
        monkeypatch.setattr(dev, "migrate_failure", lambda env: None)
        monkeypatch.setattr(dev.time, "monotonic", lambda: clock[0])
        monkeypatch.setattr(dev.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + 5))
        monkeypatch.setattr(dev, "info", said.append)
        dev.wait_for_migrate({})
        return said

    def test_it_says_every_so_often_that_migrate_still_runs(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        said = self.wait(monkeypatch, running_polls=20)  # 100 s of a running migrate
        assert [line.split(":")[0] for line in said] == [
            f"migrate still running after {seconds}s" for seconds in (30, 60, 90)
        ]
        assert "`make logs SERVICE=migrate`" in said[0]

    def test_a_quick_migrate_says_nothing_more(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert self.wait(monkeypatch, running_polls=3) == []


# `docker compose` as compose 2.26 answers when migrate had nothing to apply: `up --wait` fails on
# the container that already exited 0; every command is logged.
QUICK_MIGRATE_COMPOSE = """
import json, sys
with open(LOG, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:4] == ["up", "--detach", "--wait"] and "migrate" in sys.argv:
    print("container hangar-migrate-1 exited (0)")
    sys.exit(1)
if sys.argv[1] == "ps":
    print(json.dumps({"Service": "migrate", "State": "exited", "ExitCode": EXIT_CODE}))
"""


class TestQuickMigrate:
    """A migrate with nothing to apply (a second `make dev`) can exit before compose's `up
    --wait` looks at it, and compose then fails the wait: the start goes on, and waits for the
    other services once more. A LocalLibrary e2e run failed so."""

    def start(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, exit_code: int) -> list[str]:
        log = tmp_path / "compose.log"
        script = QUICK_MIGRATE_COMPOSE.replace("LOG", repr(str(log)))
        script = script.replace("EXIT_CODE", str(exit_code))
        monkeypatch.setattr(dev, "compose", lambda *args: [sys.executable, "-c", script, *args])
        monkeypatch.setattr(dev, "images_to_build", lambda config: [])
        monkeypatch.setattr(
            dev, "start_localstack", lambda mode: SimpleNamespace(endpoint="http://ls:4566")
        )
        monkeypatch.setattr(dev, "deploy_stack", lambda endpoint: None)
        monkeypatch.setattr(dev, "wait_until_serving", lambda address: None)
        try:
            dev._start_containers(ServerAddress(port=8000), dict(os.environ), COMPOSE_CONFIG)
        finally:
            ran = log.read_text().splitlines()
        return ran

    def test_the_start_goes_on_and_waits_for_the_others_again(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        ran = self.start(monkeypatch, tmp_path, exit_code=0)
        assert "up --detach --wait db localstack migrate" in ran
        assert "up --detach --wait db localstack" in ran
        assert "up --detach --no-deps web worker" in ran

    def test_a_migrate_that_failed_still_fails_the_start(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        with pytest.raises(HangarError, match="compose's `migrate` service failed"):
            self.start(monkeypatch, tmp_path, exit_code=1)
