"""Turning environment variables into settings values, with errors that name the variable to set.

Kept out of settings.py so each rule can be tested without re-importing the settings module.
"""

import os
import sys
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

ENVIRONMENTS = ("development", "production")
DB_PARTS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")
# The RDS-generated secret always holds host, username and password; the port has a default
# and the database name may be absent (then PostgreSQL's convention applies: the user's name).
REQUIRED_DB_PARTS = ("DB_HOST", "DB_USER", "DB_PASSWORD")
FROM_ENV_FILE = "HANGAR_FROM_ENV_FILE"  # names of the variables read_env_file set


def django_env(env: environ.Env) -> str:
    value = env.str("DJANGO_ENV", default="development")
    if value not in ENVIRONMENTS:
        raise ImproperlyConfigured(
            f"DJANGO_ENV={value!r} is not valid; set it to one of: {', '.join(ENVIRONMENTS)}."
        )
    return value


def read_env_file(env: environ.Env, default: Path) -> Path | None:
    """Load HANGAR_ENV_FILE (or `default` when it exists) without overriding real variables."""
    explicit = env.str("HANGAR_ENV_FILE", default="")
    path = Path(explicit) if explicit else default
    if not path.is_file():
        if explicit:
            raise ImproperlyConfigured(
                f"HANGAR_ENV_FILE={explicit} does not exist; fix the path or unset it "
                "(`make deploy-local` writes .hangar/local.env)."
            )
        return None
    # The values an earlier read took from the file are no real variables: runserver's reloader
    # passes them on to every new server process, which must see the file's current values.
    for name in os.environ.pop(FROM_ENV_FILE, "").split(","):
        os.environ.pop(name, None)
    before = set(os.environ)
    environ.Env.read_env(path, overwrite=False)
    os.environ[FROM_ENV_FILE] = ",".join(sorted(set(os.environ) - before))
    return path


def required(env: environ.Env, name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} is required when DJANGO_ENV=production; set it in the environment "
            "(on ECS the task definition injects it)."
        )
    return value


def database(env: environ.Env, *, production: bool, sqlite_path: Path) -> dict[str, Any]:
    """DATABASE_URL, else the DB_* parts ECS injects from the RDS secret, else dev SQLite."""
    if env.str("DATABASE_URL", default=""):
        config: dict[str, Any] = env.db_url("DATABASE_URL")
    elif any(env.str(name, default="") for name in DB_PARTS):
        missing = [name for name in REQUIRED_DB_PARTS if not env.str(name, default="")]
        if missing:
            raise ImproperlyConfigured(
                f"{', '.join(missing)} missing: the database is configured from DB_* variables, "
                f"which need {', '.join(REQUIRED_DB_PARTS)} (DB_PORT and DB_NAME are optional)."
            )
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": env.str("DB_HOST"),
            "PORT": env.int("DB_PORT", default=5432),
            "NAME": env.str("DB_NAME", default="") or env.str("DB_USER"),
            "USER": env.str("DB_USER"),
            "PASSWORD": env.str("DB_PASSWORD"),
        }
    elif production:
        raise ImproperlyConfigured(
            "DATABASE_URL is required when DJANGO_ENV=production (or the parts "
            f"{', '.join(REQUIRED_DB_PARTS)}, as ECS injects them from the RDS secret)."
        )
    else:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path}
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Reuse connections across requests, but verify them first so a database failover
        # costs one reconnect instead of a burst of 500s.
        config.setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    return config


def notice(message: str) -> None:
    print(f"hangar: {message}", file=sys.stderr)
