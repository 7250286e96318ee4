import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

from config import environment

APP_DIR = Path(__file__).resolve().parents[2] / "app"
SQLITE = Path("/tmp/hangar-test.sqlite3")
OWN_VARIABLES = (
    "DJANGO_",
    "DATABASE_URL",
    "DB_",
    "AWS_",
    "DOCUMENTS_",
    "TASKS_",
    "UPLOAD_",
    "HANGAR_",
)


@pytest.fixture
def env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(OWN_VARIABLES):
            monkeypatch.delenv(name)
    return environ.Env()


def manage(*args: str, tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run manage.py in a fresh process: settings are evaluated once per process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.touch()
    clean |= {"HANGAR_ENV_FILE": str(empty_env_file), **variables}
    return subprocess.run(
        [sys.executable, str(APP_DIR / "manage.py"), *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def production(**extra: str) -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "app.example.com",
        "DATABASE_URL": "postgres://hangar:hangar@127.0.0.1:5432/hangar",
        **extra,
    }


SECURITY_SETTINGS = (
    "from django.conf import settings as s; "
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
    "s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
    "s.SECURE_PROXY_SSL_HEADER)"
)


@pytest.mark.parametrize("https", [None, "true"])
def test_production_settings_pass_the_deployment_checklist(https, tmp_path):
    variables = production() if https is None else production(DJANGO_HTTPS=https)

    result = manage("check", "--deploy", "--fail-level=WARNING", tmp_path=tmp_path, **variables)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("https", [None, "true"])
def test_behind_tls_production_redirects_sets_hsts_and_secure_cookies(https, tmp_path):
    variables = production() if https is None else production(DJANGO_HTTPS=https)

    result = manage(
        "shell", "--no-imports", "-c", SECURITY_SETTINGS, tmp_path=tmp_path, **variables
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "True 31536000 True True True True ('HTTP_X_FORWARDED_PROTO', 'https')"
    )


def test_hsts_duration_is_configurable_behind_tls(tmp_path):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS)",
        tmp_path=tmp_path,
        **production(DJANGO_HTTPS="true", DJANGO_SECURE_HSTS_SECONDS="3600"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3600"


def test_over_plain_http_production_neither_redirects_nor_pins_nor_hides_cookies(tmp_path):
    # HSTS stays off even when a duration is set: it would pin browsers to an https:// that is
    # not there.
    variables = production(DJANGO_HTTPS="false", DJANGO_SECURE_HSTS_SECONDS="3600")

    result = manage(
        "shell", "--no-imports", "-c", SECURITY_SETTINGS, tmp_path=tmp_path, **variables
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "False 0 False False False False ('HTTP_X_FORWARDED_PROTO', 'https')"
    )


def test_over_plain_http_the_checklist_reports_exactly_the_missing_tls(tmp_path):
    """Not silenced: an HTTP-only stage is not deployment-ready, and the checklist says why."""
    variables = production(DJANGO_HTTPS="false")

    result = manage("check", "--deploy", "--fail-level=WARNING", tmp_path=tmp_path, **variables)

    assert result.returncode != 0
    reported = set(re.findall(r"\((security\.[WE]\d+)\)", result.stderr))
    assert reported == {"security.W004", "security.W008", "security.W012", "security.W016"}


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing, tmp_path):
    variables = production()
    del variables[missing]

    result = manage("check", tmp_path=tmp_path, **variables)

    assert result.returncode != 0
    assert (
        f"ImproperlyConfigured: {missing} is required when DJANGO_ENV=production" in result.stderr
    )


def test_development_defaults_announce_themselves(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.STORAGES['default']['BACKEND'], "
        "s.TASKS['default']['BACKEND'])"
    )

    result = manage("shell", "--no-imports", "-c", script, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "django.db.backends.sqlite3",
        "django.core.files.storage.FileSystemStorage",
        "django.tasks.backends.immediate.ImmediateBackend",
    ]
    [notice] = [line for line in result.stderr.splitlines() if line.startswith("hangar:")]
    assert "SQLite" in notice
    assert "no DOCUMENTS_BUCKET" in notice
    assert "no TASKS_QUEUE_URL" in notice


def test_configured_services_replace_the_fallbacks(tmp_path):
    script = (
        "import sys; from django.conf import settings as s; "
        "print('botocore' in sys.modules); "
        "from django.core.files.storage import default_storage as d; "
        "c = d.client_config; "
        "print(s.STORAGES['default']['BACKEND'], d.bucket_name, d.endpoint_url, "
        "c.connect_timeout, c.read_timeout, c.s3['addressing_style'], "
        "s.TASKS['default']['BACKEND'])"
    )

    result = manage(
        "shell",
        "--no-imports",
        "-c",
        script,
        tmp_path=tmp_path,
        DJANGO_DEBUG="1",
        DOCUMENTS_BUCKET="docs",
        AWS_ENDPOINT_URL="http://127.0.0.1:4566",
        TASKS_QUEUE_URL="http://127.0.0.1:4566/000000000000/tasks",
        DATABASE_URL=f"sqlite:///{SQLITE}",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",  # the settings alone import no AWS SDK: it costs every process start
        "config.storage.DocumentStorage",
        "docs",
        "http://127.0.0.1:4566",
        "2.0",
        "5.0",
        "path",
        "sqs_tasks.backend.SQSBackend",
    ]
    assert "hangar:" not in result.stderr


def test_env_file_is_read_but_real_variables_win(env, tmp_path, monkeypatch):
    env_file = tmp_path / "local.env"
    env_file.write_text("DOCUMENTS_BUCKET=from-file\nTASKS_QUEUE_URL=from-file\n")
    monkeypatch.setenv("HANGAR_ENV_FILE", str(env_file))
    monkeypatch.setenv("TASKS_QUEUE_URL", "from-environment")

    assert environment.read_env_file(env, default=tmp_path / "unused.env") == env_file

    assert os.environ["DOCUMENTS_BUCKET"] == "from-file"
    assert os.environ["TASKS_QUEUE_URL"] == "from-environment"


def test_a_new_server_process_reads_the_rewritten_env_file_not_what_it_inherited(
    env, tmp_path, monkeypatch
):
    """runserver's reloader starts each server process with its parent's environment."""
    for name in ("DOCUMENTS_BUCKET", "TASKS_DLQ_URL", environment.FROM_ENV_FILE):
        monkeypatch.setenv(name, "")  # so that monkeypatch removes what the reads below set
        monkeypatch.delenv(name)
    env_file = tmp_path / "local.env"
    env_file.write_text("DOCUMENTS_BUCKET=stale\nTASKS_DLQ_URL=stale\nTASKS_QUEUE_URL=from-file\n")
    monkeypatch.setenv("HANGAR_ENV_FILE", str(env_file))
    monkeypatch.setenv("TASKS_QUEUE_URL", "from-environment")
    environment.read_env_file(env, default=tmp_path / "unused.env")
    assert os.environ["DOCUMENTS_BUCKET"] == "stale"

    # This process's environment now is what the reloader hands its next server process.
    env_file.write_text("DOCUMENTS_BUCKET=deployed\nTASKS_QUEUE_URL=from-file\n")
    environment.read_env_file(env, default=tmp_path / "unused.env")

    assert os.environ["DOCUMENTS_BUCKET"] == "deployed"
    assert "TASKS_DLQ_URL" not in os.environ, "a value the file no longer has must go"
    assert os.environ["TASKS_QUEUE_URL"] == "from-environment"


def test_default_env_file_is_optional_but_an_explicit_one_must_exist(env, tmp_path, monkeypatch):
    assert environment.read_env_file(env, default=tmp_path / "absent.env") is None

    monkeypatch.setenv("HANGAR_ENV_FILE", str(tmp_path / "typo.env"))
    with pytest.raises(ImproperlyConfigured, match=r"HANGAR_ENV_FILE=.*typo\.env does not exist"):
        environment.read_env_file(env, default=tmp_path / "absent.env")


def test_unknown_django_env_is_refused(env, monkeypatch):
    monkeypatch.setenv("DJANGO_ENV", "staging")

    with pytest.raises(ImproperlyConfigured, match="DJANGO_ENV='staging' is not valid"):
        environment.django_env(env)


def test_database_from_url(env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5433/app")

    config = environment.database(env, production=True, sqlite_path=SQLITE)

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "app")
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["OPTIONS"]["connect_timeout"] == 5


def test_database_from_the_parts_ecs_injects(env, monkeypatch):
    for name, value in {"DB_HOST": "rds", "DB_USER": "app", "DB_PASSWORD": "pw"}.items():
        monkeypatch.setenv(name, value)

    config = environment.database(env, production=True, sqlite_path=SQLITE)

    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "rds",
        5432,
        "app",
        "app",
    )
    assert config["PASSWORD"] == "pw"


def test_incomplete_database_parts_name_what_is_missing(env, monkeypatch):
    monkeypatch.setenv("DB_HOST", "rds")

    with pytest.raises(ImproperlyConfigured, match=r"^DB_USER, DB_PASSWORD missing"):
        environment.database(env, production=False, sqlite_path=SQLITE)


def test_sqlite_only_in_development(env):
    assert environment.database(env, production=False, sqlite_path=SQLITE) == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": SQLITE,
    }
    with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL is required"):
        environment.database(env, production=True, sqlite_path=SQLITE)
