"""`make dev`'s login, for any project that uses django.contrib.auth: create (or reset) a
development superuser and print its credentials.

This file runs inside the project's own Django, as `manage.py shell --command=<this source>`
(`manage_arguments()`), so no project needs a command of its own and the container needs none of
Hangar's code on its path: it imports only the standard library and Django's public API. It reads
the project's user model (custom ones too) through get_user_model() and USERNAME_FIELD, and is
idempotent: every run resets the password, so the printed credentials always work. The runtime
image (DJANGO_ENV=production) refuses it: a known password would be a way in.
"""

import os
import sys
from pathlib import Path
from typing import Any

USERNAME = "dev"
EMAIL = "dev@example.com"  # example.com: reserved for documentation, never a real mailbox
PASSWORD = "dev"  # noqa: S105 - a development-only account on a loopback-only server


def manage_arguments() -> list[str]:
    """manage.py's arguments that run this file in the project's Django."""
    source = Path(__file__).read_text()
    return ["shell", "--verbosity=0", f"--command={source}\nprint(ensure_dev_superuser())"]


def ensure_dev_superuser() -> str:
    """Create or reset the superuser; the line to print says which, or why there is none."""
    from django.apps import apps

    if os.environ.get("DJANGO_ENV") == "production":
        sys.exit(
            "refusing to create a superuser with a known password under DJANGO_ENV=production; "
            "use `manage.py createsuperuser` there"
        )
    if not apps.is_installed("django.contrib.auth"):
        return "development superuser: none (django.contrib.auth is not in INSTALLED_APPS)"
    from django.contrib.auth import get_user_model

    # Whichever model the project's settings name: its fields and manager are its own.
    user_model: Any = get_user_model()
    try:
        identity = {user_model.USERNAME_FIELD: _value_for(user_model, user_model.USERNAME_FIELD)}
        required = {name: _value_for(user_model, name) for name in user_model.REQUIRED_FIELDS}
    except LookupError as unknown:
        return (
            f"development superuser: none ({unknown}); "
            'create one with `make manage ARGS="createsuperuser"`'
        )
    manager = user_model._default_manager
    user = manager.filter(**identity).first()
    if user is None:
        manager.create_superuser(**identity, **required, password=PASSWORD)
        action = "created"
    else:
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(PASSWORD)
        user.save()
        action = "reset"
    login = identity[user_model.USERNAME_FIELD]
    return (
        f"development superuser {action}: {user_model.USERNAME_FIELD} {login!r}, "
        f"password {PASSWORD!r}"
    )


def _value_for(user_model: type, name: str) -> str:
    """A fake value the field accepts: an address for an e-mail field, else the user name."""
    from django.db import models

    field = user_model._meta.get_field(name)  # type: ignore[attr-defined]
    if isinstance(field, models.EmailField):
        return EMAIL
    if isinstance(field, models.CharField):
        return USERNAME
    raise LookupError(f"the user model requires {name!r} ({type(field).__name__})")
