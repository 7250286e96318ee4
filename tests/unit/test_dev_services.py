"""`make dev`, `make logs` and `make doctor` say when a service the dev session declared is down.

Docker mode is judged from `docker compose ps --all` rows as compose 2.26 prints them (no engine
runs here); host mode from real child processes, one alive and one that exited, and a LocalStack
port nothing answers on.
"""

import argparse
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hangar.core.processes import ProcessRecord
from hangar.devloop import children, dev, doctor, services
from hangar.devloop.services import ServiceState

# compose.yaml's services with the worker profile active, as `docker compose config` renders them
# (only what compose_states reads).
CONFIG = {
    "services": {
        "db": {},
        "localstack": {},
        "migrate": {"depends_on": {"db": {"condition": "service_healthy"}}},
        "web": {"depends_on": {"migrate": {"condition": "service_completed_successfully"}}},
        "worker": {"depends_on": {"migrate": {"condition": "service_completed_successfully"}}},
    }
}


def row(service: str, state: str, status: str, exit_code: int = 0, health: str = "") -> str:
    return json.dumps(
        {"Service": service, "State": state, "Status": status, "ExitCode": exit_code}
        | {"Health": health, "Name": f"hangar-{service}-1", "Publishers": []}
    )


HEALTHY = [
    row("db", "running", "Up 2 minutes (healthy)", health="healthy"),
    row("localstack", "running", "Up 2 minutes (healthy)", health="healthy"),
    row("migrate", "exited", "Exited (0) 2 minutes ago"),
    row("web", "running", "Up 2 minutes (healthy)", health="healthy"),
    row("worker", "running", "Up 2 minutes"),
]


def states_of(lines: list[str]) -> dict[str, tuple[bool, str]]:
    rows = services.parse_compose_ps("\n".join(lines))
    return {s.name: (s.up, s.detail) for s in services.compose_states(CONFIG, rows)}


def test_a_running_stack_is_up_and_its_one_shot_migration_completed():
    assert states_of(HEALTHY) == {
        "db": (True, "Up 2 minutes (healthy)"),
        "localstack": (True, "Up 2 minutes (healthy)"),
        "migrate": (True, "completed"),
        "web": (True, "Up 2 minutes (healthy)"),
        "worker": (True, "Up 2 minutes"),
    }


def test_crashed_restarting_unhealthy_failed_and_missing_services_are_down():
    lines = [
        row("db", "running", "Up 2 minutes (unhealthy)", health="unhealthy"),
        row("migrate", "exited", "Exited (1) 2 minutes ago", exit_code=1),
        row("web", "restarting", "Restarting (1) 3 seconds ago", exit_code=1),
        row("worker", "exited", "Exited (1) 5 seconds ago", exit_code=1),
    ]

    assert states_of(lines) == {
        "db": (False, "Up 2 minutes (unhealthy)"),
        "localstack": (False, "no container (not started)"),
        "migrate": (False, "Exited (1) 2 minutes ago"),
        "web": (False, "Restarting (1) 3 seconds ago"),
        "worker": (False, "Exited (1) 5 seconds ago"),
    }


def test_compose_ps_output_of_older_releases_is_one_array():
    array = "[" + ",".join(HEALTHY) + "]"
    assert services.parse_compose_ps(array) == services.parse_compose_ps("\n".join(HEALTHY))
    assert services.parse_compose_ps("") == []


def test_the_watch_says_what_went_down_and_what_came_back(capsys):
    up, down = ServiceState("worker", True, "Up"), ServiceState("worker", False, "Exited (1)")
    rounds = [[up], [down], [down], [up]]
    seen = threading.Event()

    def states() -> list[ServiceState]:
        if len(rounds) == 1:
            seen.set()
        return rounds.pop(0) if len(rounds) > 1 else rounds[0]

    with services.Watch(states, initial=[up], interval=0.01):
        assert seen.wait(10)

    captured = capsys.readouterr()
    assert captured.err.count("worker is down (Exited (1))") == 1
    assert "`make logs SERVICE=worker` shows why" in captured.err
    assert captured.out.count("worker is up again (Up)") == 1


# --- host mode, on real processes ----------------------------------------------------------------


@pytest.fixture
def host_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int) -> Iterator:
    """A host-mode session record: web alive, worker exited, LocalStack not answering."""
    monkeypatch.setenv("HANGAR_DEV_DIR", str(tmp_path))
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    web = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "manage.py"], start_new_session=True
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "manage.py", "consume"]
    )
    (tmp_path / "web.pid").write_text(ProcessRecord.of(web.pid).dumps())
    (tmp_path / "worker.pid").write_text(ProcessRecord.of(worker.pid).dumps())
    worker.kill()  # the worker crashed: its record names a process that is gone
    worker.wait()
    (tmp_path / "web.log").write_text("serving\n")
    (tmp_path / "worker.log").write_text("Traceback (most recent call last):\n")
    dev.write_session(mode="host", services=["web", "worker", "localstack"])
    yield web
    web.kill()
    web.wait()


def test_logs_show_the_output_then_say_which_service_is_down(host_session, capsys):
    assert dev.cmd_logs(argparse.Namespace(service=None, follow=False)) == 0

    captured = capsys.readouterr()
    assert "worker | Traceback (most recent call last):" in captured.out
    assert "warning: worker is down (not running)" in captured.err
    assert "warning: localstack is down (does not answer)" in captured.err
    assert "web is down" not in captured.err


def test_doctor_fails_naming_the_services_that_are_down(host_session):
    result = doctor.check_dev_services()

    assert result.status == "fail"
    assert result.detail == "worker down (not running); localstack down (does not answer)"
    assert result.fix == "`make logs SERVICE=worker` shows why; `make dev` starts it again"


def test_doctor_passes_without_a_session(tmp_path, monkeypatch):
    monkeypatch.setenv("HANGAR_DEV_DIR", str(tmp_path))

    assert doctor.check_dev_services() == doctor.CheckResult(
        "dev services", "ok", "no `make dev` session"
    )


def test_children_the_session_stopped_are_no_longer_reported_down(
    tmp_path, monkeypatch, closed_port, capsys
):
    """Ctrl-C (or a child's exit) ends the foreground session's children on purpose; the session
    record stays for LocalStack, which keeps running."""
    monkeypatch.setenv("HANGAR_DEV_DIR", str(tmp_path))
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    dev.write_session(mode="host", services=["web", "localstack"])
    with children.Session(tmp_path, tmp_path) as session:
        session.start("web", [sys.executable, "-c", "print('serving')"], {}, log=False)
        assert session.follow() == 1
    dev.forget_services(child.name for child in session.children)

    assert dev.read_session()["services"] == ["localstack"]
    assert [s.name for s in dev.service_states()] == ["localstack"]
    assert "web exited with code 0; stopping the rest" in capsys.readouterr().err
