"""`make lint`'s project checks take the project from the contract: a model change without its
migration fails `hangar check-migrations`, whichever project and settings module `[tool.hangar]`
names."""

import argparse
import dataclasses
from pathlib import Path

import pytest

from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.provision import lint_tools

SETTINGS = """
SECRET_KEY = "lint-test"
INSTALLED_APPS = ["shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""
# Its default names another module: the check takes the contract's.
MANAGE = """import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings_of_another_machine")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""


def test_the_project_has_every_migration_and_make_lint_checks_it() -> None:
    assert "$(HANGAR) check-migrations" in (ROOT / "Makefile").read_text()
    assert lint_tools.check_migrations(argparse.Namespace()) == 0


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "manage.py").write_text(MANAGE)
    (tmp_path / "site_settings.py").write_text(SETTINGS)
    (tmp_path / "shop" / "migrations").mkdir(parents=True)
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "migrations" / "__init__.py").write_text("")
    (tmp_path / "shop" / "models.py").write_text("")
    other = dataclasses.replace(
        contract(), project_dir=str(tmp_path), settings_module="site_settings"
    )
    monkeypatch.setattr(lint_tools, "contract", lambda: other)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "a_shells_settings")
    return tmp_path


def test_the_check_runs_with_the_contracts_settings_module(project: Path) -> None:
    assert lint_tools.check_migrations(argparse.Namespace()) == 0


def test_a_model_without_its_migration_fails_the_check(project: Path) -> None:
    assert lint_tools.check_migrations(argparse.Namespace()) == 0
    (project / "shop" / "models.py").write_text(
        "from django.db import models\n\n\nclass Item(models.Model):\n"
        "    name = models.CharField(max_length=10)\n"
    )
    assert lint_tools.check_migrations(argparse.Namespace()) == 1


def test_the_check_runs_with_settings_that_require_the_platforms_secret_key(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hangar init` prints `SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]`; the variable is set in
    ECS, run-task and compose, not in the shell `make lint` runs in."""
    settings = project / "site_settings.py"
    settings.write_text(
        SETTINGS.replace(
            'SECRET_KEY = "lint-test"', 'import os\nSECRET_KEY = os.environ["DJANGO_SECRET_KEY"]'
        )
    )
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    assert lint_tools.check_migrations(argparse.Namespace()) == 0
