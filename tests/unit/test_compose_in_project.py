"""compose.yaml names no project: an adopter's `[tool.hangar]` reaches the app services through
hangar.devloop.in_project, which each container runs from the mounted checkout.

The checkouts here are laid out as the containers see theirs (/app/src: pyproject.toml, the
hangar package under scripts/, the project's folder), with a manage.py that reports where and how
it was started; the launcher runs as compose runs it, in a real process.
"""

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hangar.core.paths import ROOT
from hangar.devloop.in_project import IN_PROJECT

# What the launcher takes with it into the dev image: nothing of hangar but these.
LAUNCHER_FILES = (
    "hangar/__init__.py",
    "hangar/core/__init__.py",
    "hangar/core/contract.py",
    "hangar/devloop/__init__.py",
    "hangar/devloop/in_project.py",
)
ADOPTED = """
[tool.hangar]
service-name = "shop"
image-platform = "linux/amd64"
project-dir = "site"
settings-module = "shop_site.settings.dev"
wsgi-application = "shop_site.wsgi:application"
health-path = "/up/"
readiness-path = "/ready/"
container-port = 8000

[tool.hangar.queues.orders]
env = "ORDERS_QUEUE_URL"
worker-command = ["python", "manage.py", "consume_orders", "--verbosity=2"]
"""
REPORTING_MANAGE_PY = """
import json, os, sys
print(json.dumps({"cwd": os.getcwd(), "settings": os.environ.get("DJANGO_SETTINGS_MODULE"),
                  "argv": sys.argv[1:]}))
"""


def checkout(root: Path, pyproject: str) -> Path:
    for name in LAUNCHER_FILES:
        (root / "scripts" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "scripts" / name, root / "scripts" / name)
    (root / "pyproject.toml").write_text(pyproject)
    (root / "site").mkdir()
    (root / "site" / "manage.py").write_text(REPORTING_MANAGE_PY)
    return root


def launch(root: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """As a compose service starts it: the image's PYTHONPATH, any working directory."""
    environ = {"PATH": os.environ["PATH"], "PYTHONPATH": str(root / "scripts"), **env}
    python = [sys.executable, *IN_PROJECT[1:]]
    return subprocess.run(
        [*python, *argv], cwd="/", env=environ, capture_output=True, text=True, timeout=60
    )


def reported(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def adopted(tmp_path: Path) -> Path:
    return checkout(tmp_path, ADOPTED)


def test_compose_yaml_names_nothing_of_the_project() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "HANGAR_SETTINGS_MODULE" not in text
    assert "HANGAR_WORKER_COMMAND" not in text
    assert "PROJECT_DIR" not in text
    services = yaml.safe_load(text)["services"]
    for name in ("migrate", "web", "worker"):
        command = services[name]["command"]
        assert command[: len(IN_PROJECT)] == list(IN_PROJECT), name
    assert services["web"]["healthcheck"]["test"][1 : len(IN_PROJECT) + 1] == list(IN_PROJECT)


def test_a_command_runs_in_the_adopted_projects_folder_with_its_settings(adopted: Path) -> None:
    result = reported(launch(adopted, "python", "manage.py", "migrate", "--noinput"))
    assert result == {
        "cwd": str(adopted / "site"),
        "settings": "shop_site.settings.dev",
        "argv": ["migrate", "--noinput"],
    }


def test_a_settings_module_the_caller_chose_is_kept(adopted: Path) -> None:
    result = reported(
        launch(adopted, "python", "manage.py", "check", DJANGO_SETTINGS_MODULE="shop_site.ci")
    )
    assert result["settings"] == "shop_site.ci"


def test_the_worker_runs_the_first_queues_worker_command(adopted: Path) -> None:
    result = reported(launch(adopted, "--worker"))
    assert result["argv"] == ["consume_orders", "--verbosity=2"]
    assert result["cwd"] == str(adopted / "site")


def test_a_project_without_a_worker_ends_the_worker_cleanly(tmp_path: Path) -> None:
    without_queue = ADOPTED.split("[tool.hangar.queues.orders]")[0]
    result = launch(checkout(tmp_path, without_queue), "--worker")
    assert result.returncode == 0, result.stderr
    assert "declares no queue with a worker-command" in result.stdout


def test_an_edit_to_the_contract_applies_at_the_next_start(adopted: Path) -> None:
    """Nothing is copied from the contract, so nothing can be stale."""
    pyproject = adopted / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("shop_site.settings.dev", "shop_site.live"))
    assert reported(launch(adopted, "python", "manage.py", "check"))["settings"] == "shop_site.live"


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ("[project]\nname = 'shop'\n", "pyproject.toml has no [tool.hangar] table"),
        (ADOPTED.replace('settings-module = "shop_site.settings.dev"\n', ""), "settings-module"),
        (ADOPTED.replace('"shop_site.settings.dev"', '"shop site"'), "settings-module"),
    ],
    ids=["no contract", "a value missing", "a bad value"],
)
def test_a_missing_or_bad_contract_stops_the_service_with_one_line(
    tmp_path: Path, pyproject: str, message: str
) -> None:
    result = launch(checkout(tmp_path, pyproject), "python", "manage.py", "migrate")
    assert result.returncode == 1
    assert result.stdout == ""  # manage.py never ran
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert message in line


def test_a_command_that_does_not_exist_is_named(adopted: Path) -> None:
    result = launch(adopted, "no-such-program")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: cannot run 'no-such-program' in {adopted / 'site'}: "
        "[Errno 2] No such file or directory"
    ]


@pytest.fixture
def health_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/up/" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def test_the_health_check_asks_the_contracts_health_path(adopted: Path, health_server: int) -> None:
    assert launch(adopted, "--health-check", str(health_server)).returncode == 0
    pyproject = adopted / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"/up/"', '"/healthz"'))
    unhealthy = launch(adopted, "--health-check", str(health_server))
    assert unhealthy.returncode == 1
    assert f"http://127.0.0.1:{health_server}/healthz" in unhealthy.stderr
