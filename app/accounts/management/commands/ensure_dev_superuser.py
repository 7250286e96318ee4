"""`make dev`'s login: create (or reset) a development superuser and print its credentials.

Idempotent, so every `make dev` can run it; refused under DJANGO_ENV=production, where a known
password would be a way in.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

USERNAME = "dev"
PASSWORD = "dev"  # noqa: S105 - a development-only account on a loopback-only server


class Command(BaseCommand):
    help = "Create or reset the development superuser (dev/dev) and print its credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "refusing to create a superuser with a known password under DJANGO_ENV=production; "
                "use `manage.py createsuperuser` there"
            )
        user, created = get_user_model().objects.get_or_create(
            username=USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        # Reset every time, so the printed credentials always work.
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(PASSWORD)
        user.save()
        action = "created" if created else "reset"
        self.stdout.write(
            f"development superuser {action}: username {USERNAME!r}, password {PASSWORD!r} "
            "(log in at /accounts/login/ or /admin/)"
        )
