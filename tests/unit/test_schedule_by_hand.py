"""`make schedule NAME=…` runs a declared schedule's command once, where `make manage` runs
manage.py: here host mode, a real child process in the project directory with the dev environment
and this checkout's Python. (Docker mode runs the same command in the web container; the compose
e2e layer covers `compose exec`.)"""

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hangar.core import contract as contract_module
from hangar.core.errors import HangarError
from hangar.devloop import dev

REPORT = (
    "import json, os, sys; "
    "open(os.environ['SCHEDULE_OUT'], 'w').write(json.dumps("
    "[os.getcwd(), os.environ['DJANGO_ENV'], sys.executable, sys.argv[1:]]))"
)


@pytest.fixture
def declaring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The checkout's contract plus a schedule whose command reports where and how it ran."""
    path = tmp_path / "pyproject.toml"
    command = json.dumps(["python", "-c", REPORT, "nightly"])
    path.write_text(
        contract_module.PYPROJECT.read_text()
        + f'\n[tool.hangar.schedules.nightly-report]\ncron = "cron(0 3 * * ? *)"\n'
        f"command = {command}\n"
    )
    monkeypatch.setattr(contract_module.load, "__defaults__", (path,))
    monkeypatch.setenv("HANGAR_DEV_MODE", "host")
    monkeypatch.setattr(dev, "read_session", dict)  # no running `make dev` session decides
    monkeypatch.setenv("SCHEDULE_OUT", str(tmp_path / "ran.json"))
    contract_module.contract.cache_clear()
    yield tmp_path / "ran.json"
    contract_module.contract.cache_clear()


def test_a_declared_schedule_runs_once_in_the_host_dev_environment(declaring: Path) -> None:
    assert dev.cmd_schedule(argparse.Namespace(name="nightly-report")) == 0
    cwd, django_env, python, arguments = json.loads(declaring.read_text())
    assert Path(cwd) == contract_module.contract().project_path
    assert django_env == "development"
    assert python == sys.executable
    assert arguments == ["nightly"]


@pytest.mark.usefixtures("declaring")
@pytest.mark.parametrize("name", ["nightly", None])
def test_an_undeclared_schedule_is_refused_naming_the_declared_ones(name: str | None) -> None:
    with pytest.raises(HangarError, match=r"declared: nightly-report\)"):
        dev.cmd_schedule(argparse.Namespace(name=name))
