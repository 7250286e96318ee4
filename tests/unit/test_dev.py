"""`hangar dev` without starting anything: mode choice, environment, session files, refusals."""

import argparse
import contextlib
import dataclasses
import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from hangar.core import ports
from hangar.core.errors import HangarError
from hangar.devloop import dev
from hangar.devloop.debug_server import (
    ServerAddress,
    server_command,
    wait_for_client,
)


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

    def test_uploads_need_no_login_unless_the_developer_asks(self) -> None:
        assert dev.host_environment({}, with_aws=False)["UPLOADS_REQUIRE_LOGIN"] == "false"
        asked = dev.host_environment({"UPLOADS_REQUIRE_LOGIN": "true"}, with_aws=False)
        assert asked["UPLOADS_REQUIRE_LOGIN"] == "true"

    def test_without_aws_leaves_credentials_alone(self) -> None:
        env = dev.host_environment({"AWS_PROFILE": "mine"}, with_aws=False)
        assert env["AWS_PROFILE"] == "mine"
        assert "AWS_ACCESS_KEY_ID" not in env

    def test_database_description(self) -> None:
        assert "SQLite" in dev.describe_database({})
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
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    # Until exec has replaced the forked copy of this process (Linux; elsewhere nothing to do).
    while cmdline.exists() and b"manage.py" not in cmdline.read_bytes():
        assert time.monotonic() < deadline, "the sleeper never started"
        time.sleep(0.01)
    yield process
    process.kill()
    process.wait()


class TestSessionFiles:
    @pytest.mark.skipif(
        not Path("/proc").is_dir(), reason="telling reused pids apart needs Linux's /proc"
    )
    def test_running_children_skips_dead_garbage_and_reused_pids(
        self, dev_dir: Path, sleeper: subprocess.Popen[bytes]
    ) -> None:
        (dev_dir / "web.pid").write_text(f"{sleeper.pid}\n")
        (dev_dir / "worker.pid").write_text("not a pid\n")
        (dev_dir / "reused.pid").write_text(
            f"{os.getpid()}\n"
        )  # alive, but not a manage.py process
        finished = subprocess.Popen(["true"])
        finished.wait()
        (dev_dir / "dead.pid").write_text(f"{finished.pid}\n")
        assert dev.running_children() == {"web": sleeper.pid}

    def test_down_stops_the_recorded_children(
        self, dev_dir: Path, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
    ) -> None:
        (dev_dir / "web.pid").write_text(f"{sleeper.pid}\n")
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
        assert f"Stop web (pid {sleeper.pid})" in shown
        assert "did not stop" not in shown

    def test_a_foreground_sessions_own_child_is_reaped_and_stops_on_sigterm(
        self, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`hangar dev` in the foreground started it: an exited child it does not reap would
        keep its process group alive, and be "killed" after the stop timeout."""
        dev.stop_group(sleeper.pid, "web", own=sleeper)

        assert sleeper.returncode == -15
        assert "did not stop" not in capsys.readouterr().out

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
        (dev_dir / "web.pid").write_text(f"{sleeper.pid}\n")
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
    assert dev.host_worker_command() == [sys.executable, "manage.py", "worker"]
    no_worker = dataclasses.replace(dev.contract(), worker_command=None)
    monkeypatch.setattr(dev, "contract", lambda: no_worker)
    assert dev.host_worker_command() is None


COMPOSE_CONFIG: dict[str, dict[str, object]] = {
    "services": {name: {} for name in ("db", "localstack", "migrate", "web", "worker")}
}


def start_in_docker_mode(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, dict[str, object]]
) -> list[object]:
    """`hangar dev --detach` in docker mode with compose and the deploy replaced by recorders;
    returns what ran, in order."""
    events: list[object] = []

    @contextlib.contextmanager
    def in_background(arguments: list[str], env: object, **_: object) -> Iterator[None]:
        events.append(("background", *arguments))
        yield
        events.append(("waited", *arguments))

    def compose_run(*arguments: str, **_: object) -> None:
        events.append(("compose", *arguments))

    monkeypatch.setenv("HANGAR_DEV_MODE", "docker")
    monkeypatch.setattr(dev.localstack_docker, "docker_usable", lambda: True)
    monkeypatch.setattr(dev, "running_services", set)
    monkeypatch.setattr(dev, "compose_config", lambda: config)
    monkeypatch.setattr(dev, "images_to_build", lambda config: [])
    monkeypatch.setattr(
        dev, "start_localstack", lambda mode: SimpleNamespace(endpoint="http://ls:4566")
    )
    monkeypatch.setattr(dev, "deploy_stack", lambda endpoint: events.append("deploy"))
    monkeypatch.setattr(dev, "in_background", in_background)
    monkeypatch.setattr(dev, "compose_run", compose_run)
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
        superuser = ("exec", "-T", "web", "python", "manage.py", "ensure_dev_superuser")
        assert events == [
            ("background", *independent),
            "deploy",
            ("waited", *independent),
            ("compose", "up", "--detach", "--no-deps", "web", "worker"),
            ("background", *superuser),
            "serving",
            ("waited", *superuser),
            "services checked",
        ]

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
