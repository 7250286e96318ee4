"""`make dev`'s superuser, as the platform creates it in a project it knows nothing about.

Each test writes a throwaway Django project into tmp_path (a custom user model whose login is its
e-mail, Django's own User, a project without django.contrib.auth) and runs the very arguments
`make dev` gives its manage.py, in a process of its own as `make dev` does.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hangar.devloop import dev_superuser

MANAGE_PY = """\
import sys
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""
SETTINGS = """\
SECRET_KEY = "test-only"
INSTALLED_APPS = {apps!r}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}}}
USE_TZ = True
"""
# The shape of a custom user model in the Django docs: the e-mail is the login, no username.
PEOPLE_MODELS = """\
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class PersonManager(BaseUserManager):
    def create_user(self, email, password=None, **extra):
        person = self.model(email=self.normalize_email(email), **extra)
        person.set_password(password)
        person.save(using=self._db)
        return person

    def create_superuser(self, email, password=None, **extra):
        return self.create_user(email, password, is_staff=True, is_superuser=True, **extra)


class Person(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=50)
    {extra_field}
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = {required!r}
    objects = PersonManager()
"""
AUTH = ["django.contrib.auth", "django.contrib.contenttypes"]


def write_project(folder: Path, apps: list[str], **people: object) -> Path:
    """`people`: the custom user model's `required` fields and an `extra_field` line."""
    (folder / "manage.py").write_text(MANAGE_PY)
    settings = SETTINGS.format(apps=apps)
    if people:
        (folder / "people" / "migrations").mkdir(parents=True)
        (folder / "people" / "__init__.py").touch()
        (folder / "people" / "migrations" / "__init__.py").touch()
        (folder / "people" / "models.py").write_text(
            PEOPLE_MODELS.format(**{"extra_field": "", **people})
        )
        settings += 'AUTH_USER_MODEL = "people.Person"\n'
    (folder / "project_settings.py").write_text(settings)
    if people:
        manage(folder, "makemigrations", "people")
    if "django.contrib.auth" in apps:
        manage(folder, "migrate")
    return folder


def manage(
    folder: Path, *arguments: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    # Nothing of the caller's Django configuration: only the throwaway project's settings.
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=folder,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "project_settings",
            "PYTHONPATH": str(folder),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def ensure(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """What `make dev` runs in the project (host mode; docker mode runs it with compose exec)."""
    return manage(folder, *dev_superuser.manage_arguments(), check=False, **env)


def shell(folder: Path, code: str) -> str:
    return manage(folder, "shell", "--verbosity=0", f"--command={textwrap.dedent(code)}").stdout


LOGIN = """\
from django.contrib.auth import authenticate, get_user_model
user = authenticate(None, **{{get_user_model().USERNAME_FIELD: {login!r}, "password": "dev"}})
print(get_user_model().objects.count(), user is not None and user.is_superuser and user.is_staff)
"""


def test_a_custom_user_model_gets_the_superuser_by_its_username_field(tmp_path: Path) -> None:
    project = write_project(tmp_path, [*AUTH, "people"], required=["display_name"])

    first = ensure(project)

    assert first.returncode == 0, first.stderr
    assert first.stdout == (
        "development superuser created: email 'dev@example.com', password 'dev'\n"
    )
    assert shell(project, LOGIN.format(login=dev_superuser.EMAIL)) == "1 True\n"


def test_a_second_run_resets_the_password_and_the_flags(tmp_path: Path) -> None:
    project = write_project(tmp_path, [*AUTH, "people"], required=["display_name"])
    assert ensure(project).returncode == 0
    shell(
        project,
        """
        from people.models import Person
        person = Person.objects.get()
        person.set_password("changed")
        person.is_active = person.is_staff = person.is_superuser = False
        person.save()
        """,
    )

    again = ensure(project)

    assert again.returncode == 0, again.stderr
    assert "development superuser reset: email 'dev@example.com'" in again.stdout
    assert shell(project, LOGIN.format(login=dev_superuser.EMAIL)) == "1 True\n"


def test_djangos_own_user_model_logs_in_with_dev(tmp_path: Path) -> None:
    project = write_project(tmp_path, AUTH)

    created = ensure(project)

    assert created.stdout == "development superuser created: username 'dev', password 'dev'\n"
    assert shell(project, LOGIN.format(login=dev_superuser.USERNAME)) == "1 True\n"


def test_a_project_without_django_contrib_auth_is_skipped_in_one_line(tmp_path: Path) -> None:
    project = write_project(tmp_path, ["django.contrib.staticfiles"])

    skipped = ensure(project)

    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout == (
        "development superuser: none (django.contrib.auth is not in INSTALLED_APPS)\n"
    )


def test_a_required_field_it_cannot_invent_is_named_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    project = write_project(
        tmp_path,
        [*AUTH, "people"],
        extra_field="birth_year = models.IntegerField()",
        required=["birth_year"],
    )

    skipped = ensure(project)

    assert skipped.returncode == 0, skipped.stderr
    assert "none (the user model requires 'birth_year' (IntegerField))" in skipped.stdout
    assert 'make manage ARGS="createsuperuser"' in skipped.stdout
    assert shell(project, "from people.models import Person; print(Person.objects.count())") == (
        "0\n"
    )


def test_refused_in_the_runtime_image(tmp_path: Path) -> None:
    project = write_project(tmp_path, AUTH)

    refused = ensure(project, DJANGO_ENV="production")

    assert refused.returncode != 0
    assert "refusing to create a superuser with a known password" in refused.stderr
    assert "Traceback" not in refused.stderr
    count = (
        "from django.contrib.auth import get_user_model; print(get_user_model().objects.count())"
    )
    assert shell(project, count) == "0\n"


@pytest.mark.parametrize("name", ["USERNAME", "EMAIL", "PASSWORD"])
def test_the_credentials_are_the_documented_fake_ones(name: str) -> None:
    documented = (Path(__file__).parents[2] / "docs" / "dev.md").read_text()
    assert f"`{getattr(dev_superuser, name)}`" in documented
