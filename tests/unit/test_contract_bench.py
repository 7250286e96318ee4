"""`[tool.hangar.bench]`: what `make bench` needs of the app (its seed, its upload path) loads into
the contract, a project without it measures without them, and a bad entry is refused in one line;
the seed's last line becomes the load's Cookie."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from hangar.bench import run as bench
from hangar.core.contract import Bench, ContractError, load
from hangar.core.errors import HangarError

CONTRACT = """
[tool.hangar]
service-name = "shop"
image-platform = "linux/amd64"
project-dir = "site"
settings-module = "shop_site.settings"
wsgi-application = "shop_site.wsgi:application"
health-path = "/up/"
readiness-path = "/ready/"
container-port = 8000
"""
BENCH = """
[tool.hangar.bench]
seed-command = ["python", "manage.py", "seed_load"]
upload-path = "/api/files/"
"""


def pyproject(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return path


def test_the_bench_table_loads(tmp_path: Path) -> None:
    assert load(pyproject(tmp_path, CONTRACT + BENCH)).bench == Bench(
        seed_command=("python", "manage.py", "seed_load"), upload_path="/api/files/"
    )


def test_a_project_without_it_has_no_seed_and_no_upload_path(tmp_path: Path) -> None:
    assert load(pyproject(tmp_path, CONTRACT)).bench == Bench(None, None)


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('seed-command = "python manage.py seed_load"', "seed-command must be a list of strings"),
        ("seed-command = []", "seed-command must be a list of strings"),
        ('upload-path = "api/files/"', "upload-path = 'api/files/' is invalid"),
        ('upload-path = "/api/files/?x=1"', "upload-path = '/api/files/?x=1' is invalid"),
        ('seed = ["python"]', "unknown key 'seed'"),
    ],
)
def test_a_bad_entry_is_refused_with_one_line_naming_it(
    tmp_path: Path, table: str, named: str
) -> None:
    with pytest.raises(ContractError) as refused:
        load(pyproject(tmp_path, f"{CONTRACT}\n[tool.hangar.bench]\n{table}\n"))
    assert named in str(refused.value)
    assert "[tool.hangar.bench]" in str(refused.value)
    assert "\n" not in str(refused.value)


def seeding(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str) -> dict[str, str]:
    """seed_headers with a seed command that prints `script`'s output, run for real."""
    seed = tmp_path / "seed.py"
    seed.write_text(script)
    declared = Bench(seed_command=(sys.executable, str(seed)), upload_path=None)
    contract = dataclasses.replace(load(pyproject(tmp_path, CONTRACT)), bench=declared)
    monkeypatch.setattr(bench, "contract", lambda: contract)
    return bench.seed_headers([])


def test_the_seeds_last_line_is_the_loads_cookie(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = "print('seeded 100 rows')\nprint('sessionid=abc123')\n"
    assert seeding(monkeypatch, tmp_path, script) == {"Cookie": "sessionid=abc123"}


def test_a_seed_that_prints_no_cookie_sends_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert seeding(monkeypatch, tmp_path, "print('seeded 100 rows')\n") == {}


def test_without_a_seed_command_nothing_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    contract = load(pyproject(tmp_path, CONTRACT))
    monkeypatch.setattr(bench, "contract", lambda: contract)
    ran: list[object] = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    assert bench.seed_headers(["docker", "exec", "web"]) == {}
    assert ran == []


def test_a_failing_seed_stops_the_bench_with_its_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(HangarError, match="no orders table"):
        seeding(monkeypatch, tmp_path, "import sys; sys.exit('no orders table')\n")
