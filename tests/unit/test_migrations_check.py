"""`make lint`s makemigrations --check: passes on the app, fails on a model without migration."""

import os
import subprocess
import sys
from pathlib import Path

from hangar.core.paths import ROOT

CHECK = ["app/manage.py", "makemigrations", "--check", "--dry-run"]


def run_check(
    extra_path: Path | None = None, settings: str = "config.settings"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings, "DATABASE_URL": ""}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return subprocess.run(
        [sys.executable, *CHECK], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_every_model_change_has_its_migration():
    assert "makemigrations --check --dry-run" in (ROOT / "Makefile").read_text()
    done = run_check()
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_model_without_its_migration_fails_the_check(tmp_path):
    app = tmp_path / "unmigrated"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "models.py").write_text(
        "from django.db import models\n\n\nclass Probe(models.Model):\n"
        "    name = models.CharField(max_length=10)\n"
    )
    (tmp_path / "probe_settings.py").write_text(
        "from config.settings import *  # noqa: F403\n\n"
        "INSTALLED_APPS = [*INSTALLED_APPS, 'unmigrated']  # noqa: F405\n"
    )

    done = run_check(tmp_path, settings="probe_settings")

    assert done.returncode == 1
    assert "Migrations for 'unmigrated'" in done.stdout, done.stderr
