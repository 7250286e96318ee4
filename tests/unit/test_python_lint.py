"""`make lint`'s ruff and mypy: Hangar's rules on Hangar's code, the team's on the project's folder
([tool.hangar] project-dir), chosen by the configuration the team keeps there
(hangar.provision.python_lint, docs/adopting.md)."""

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from hangar.core.contract import Contract, contract
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.provision.python_lint import (
    HANGAR_MYPY_CONFIG,
    Check,
    mypy_checks,
    ruff_checks,
    run_checks,
)

HANGARS_CONFIG = ("--config-file", str(HANGAR_MYPY_CONFIG))

# A mutable default argument: Hangar's rules (B006) reject it, ruff's runnable-code floor does not.
HANGAR_VIOLATION = "def add(item, items=[]):\n    items.append(item)\n    return items\n"
PRINTS = 'print("hello")\n'
# A print, which a team's own rule (T201) may forbid: Hangar's rules allow it.
STRICTER_CONFIG = 'lint.select = ["T20"]\n'


def project_named(project_dir: str, settings_module: str = "site.settings") -> Contract:
    return dataclasses.replace(contract(), project_dir=project_dir, settings_module=settings_module)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with Hangar's pyproject, a platform folder and an empty project folder."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "tool.py").write_text('"""A tool."""\n')
    (tmp_path / "infra").mkdir()
    (tmp_path / "site").mkdir()
    return tmp_path


def commands(checks: list[Check]) -> list[tuple[str, ...]]:
    return [check.command[1:] for check in checks]


def test_hangars_code_gets_hangars_configuration_without_the_project_folder(repo: Path) -> None:
    checks = ruff_checks(repo, project_named("site"))
    hangar_only = ("--force-exclude", "--extend-exclude", str(repo / "site"), ".")
    assert commands(checks)[:2] == [("check", *hangar_only), ("format", "--check", *hangar_only)]
    assert {check.cwd for check in checks[:2]} == {repo}


def test_a_project_without_ruff_configuration_fails_only_on_code_that_cannot_run(
    repo: Path,
) -> None:
    no_migrations = ("--force-exclude", "--extend-exclude", str(repo / "site/**/migrations"))
    assert commands(ruff_checks(repo, project_named("site")))[2:] == [
        ("check", "--isolated", "--select", "E9,F63,F7,F82", *no_migrations, "site")
    ]
    assert commands(ruff_checks(repo, project_named("site"), fix=True))[2:] == []


@pytest.mark.parametrize(
    ("name", "text"),
    [("ruff.toml", ""), (".ruff.toml", ""), ("pyproject.toml", "[tool.ruff]\n")],
)
def test_a_project_with_its_own_ruff_configuration_gets_it(
    repo: Path, name: str, text: str
) -> None:
    (repo / "site" / name).write_text(text)
    no_migrations = ("--force-exclude", "--extend-exclude", str(repo / "site/**/migrations"))
    assert commands(ruff_checks(repo, project_named("site")))[2:] == [
        ("check", *no_migrations, "site"),
        ("format", "--check", *no_migrations, "site"),
    ]
    assert commands(ruff_checks(repo, project_named("site"), fix=True))[2:] == [
        ("check", "--fix", *no_migrations, "site"),
        ("format", *no_migrations, "site"),
    ]


def test_a_pyproject_without_a_ruff_table_is_no_ruff_configuration(repo: Path) -> None:
    (repo / "site" / "pyproject.toml").write_text("[project]\nname = 'site'\n")
    assert "--isolated" in ruff_checks(repo, project_named("site"))[2].command


def test_mypy_reads_only_the_folders_of_hangars_code_the_repository_has(repo: Path) -> None:
    """A repository that installs the package (no scripts/, no infra/ yet) has none to read:
    mypy given a missing folder fails with "Cannot read file" (a new adopter's `make lint`)."""
    project = project_named("site")
    shutil.rmtree(repo / "scripts")
    assert commands(mypy_checks(repo, project)) == [("-m", "mypy", *HANGARS_CONFIG, "infra")]
    (repo / "infra").rmdir()
    assert mypy_checks(repo, project) == []


def test_mypy_reads_the_project_only_when_its_folder_has_a_mypy_configuration(
    repo: Path,
) -> None:
    project = project_named("site", "site_config.settings")
    assert [check.command[1:] for check in mypy_checks(repo, project)] == [
        ("-m", "mypy", *HANGARS_CONFIG, "scripts", "infra")
    ]
    for name, text in [
        ("setup.cfg", "[flake8]\n"),
        ("pyproject.toml", "[tool.ruff]\n"),
    ]:
        (repo / "site" / name).write_text(text)
        assert len(mypy_checks(repo, project)) == 1, name
    for name, text in [
        ("mypy.ini", "[mypy]\n"),
        (".mypy.ini", "[mypy]\n"),
        ("setup.cfg", "[mypy]\n"),
        ("pyproject.toml", "[tool.mypy]\n"),
    ]:
        (repo / "site" / name).write_text(text)
        hangars, projects = mypy_checks(repo, project)
        (repo / "site" / name).unlink()
        assert hangars.cwd == repo
        assert projects.cwd == repo / "site", name
        assert projects.command[-1] == "."
        # django-stubs' plugin reads the settings module from the environment.
        assert projects.env == {"DJANGO_SETTINGS_MODULE": "site_config.settings"}


def lint(repo: Path, project: Contract) -> None:
    run_checks(ruff_checks(repo, project))


def test_a_violation_of_hangars_rules_in_hangars_code_fails(repo: Path) -> None:
    lint(repo, project_named("site"))
    (repo / "scripts" / "tool.py").write_text(HANGAR_VIOLATION)
    with pytest.raises(HangarError, match="ruff: Hangar's code"):
        lint(repo, project_named("site"))


def test_hangars_rules_do_not_reach_a_project_without_its_own(repo: Path) -> None:
    (repo / "site" / "views.py").write_text(HANGAR_VIOLATION + "x = 'not hangar style'\n")
    lint(repo, project_named("site"))
    (repo / "site" / "views.py").write_text("def view():\n    return undefined_name\n")
    with pytest.raises(HangarError, match="syntax errors and undefined names"):
        lint(repo, project_named("site"))


def test_a_projects_own_stricter_rules_fail_its_code(repo: Path) -> None:
    (repo / "site" / "views.py").write_text(PRINTS)
    lint(repo, project_named("site"))
    (repo / "site" / "ruff.toml").write_text(STRICTER_CONFIG)
    with pytest.raises(HangarError, match="ruff: site/, its own rules"):
        lint(repo, project_named("site"))
    # Its own rules hold in its folder only: Hangar's code keeps Hangar's.
    (repo / "scripts" / "tool.py").write_text(PRINTS)
    assert run_checks(ruff_checks(repo, project_named("site"))[:2]) == 0


def test_the_projects_migrations_are_never_linted(repo: Path) -> None:
    (repo / "site" / "ruff.toml").write_text(STRICTER_CONFIG)
    migrations = repo / "site" / "shop" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "0001_initial.py").write_text(PRINTS + "x = undefined_name\n")
    lint(repo, project_named("site"))
    (repo / "site" / "ruff.toml").unlink()
    lint(repo, project_named("site"))


def test_mypy_on_an_opted_in_project_uses_the_contracts_settings_module(repo: Path) -> None:
    site = repo / "site"
    (site / "site_config").mkdir()
    (site / "site_config" / "__init__.py").write_text("")
    (site / "site_config" / "settings.py").write_text(
        'SECRET_KEY = "typecheck"\nINSTALLED_APPS: list[str] = []\n'
    )
    (site / "views.py").write_text("def total() -> int:\n    return 1\n")
    # No settings module here: the plugin would stop without the contract's.
    (site / "mypy.ini").write_text("[mypy]\nplugins = mypy_django_plugin.main\n")
    project_checks = mypy_checks(repo, project_named("site", "site_config.settings"))[1:]
    assert run_checks(project_checks) == 0
    (site / "views.py").write_text('def total() -> int:\n    return "1"\n')
    with pytest.raises(HangarError, match="mypy: site/"):
        run_checks(project_checks)


@pytest.mark.parametrize(
    ("name", "text", "plan"),
    [
        ("pyproject.toml", "[tool.ruff\n", ruff_checks),
        ("pyproject.toml", "[tool.ruff\n", mypy_checks),
        ("setup.cfg", "mypy]\nx\n", mypy_checks),
    ],
)
def test_an_unreadable_configuration_in_the_project_is_one_line(
    repo: Path, name: str, text: str, plan: Callable[[Path, Contract], list[Check]]
) -> None:
    (repo / "site" / name).write_text(text)
    with pytest.raises(HangarError, match=f"site/{name} "):
        plan(repo, project_named("site"))


def test_hangars_mypy_settings_come_from_the_package_and_skip_the_cdk(tmp_path: Path) -> None:
    """A repository that installs the package has no [tool.mypy] of Hangar's: the package's file
    is passed instead. Without its aws_cdk rule a new adopter's `make lint` read all of aws_cdk
    (546 s of an adopter's `make lint` under load); with it, aws_cdk is not followed, while
    Hangar's own code is still checked."""
    (tmp_path / "app.py").write_text(
        "import aws_cdk\n\nstack: int = aws_cdk.Stack()\nwrong: int = 'text'\n"
    )
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", *HANGARS_CONFIG, "--no-incremental", "app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["4"], checked.stdout + checked.stderr
