"""What a project must still add to run on the platform (docs/adopting.md section 3), as code to
paste: `hangar init` prints the pieces it cannot find in the project's files."""

from pathlib import Path

from hangar.core.contract import Contract

HEALTH_MIDDLEWARE = '''

class HealthMiddleware:
    """The load balancer asks by the task's private IP, which ALLOWED_HOSTS cannot list: answer
    before host validation (first in MIDDLEWARE)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "{health_path}" and request.method in ("GET", "HEAD"):
            return HttpResponse("ok", content_type="text/plain")
        return self.get_response(request)
'''
READINESS_VIEW = '''

def ready(request):
    """Readiness: the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return JsonResponse({"database": str(error)}, status=503)
    return JsonResponse({"database": "ok"})
'''
# The platform's settings (section 4): what a settings file that reads one names, and its code.
SETTINGS = {
    ("DJANGO_SECRET_KEY",): """\
# Every task and `make dev` get the key; the runtime image (DJANGO_ENV=production) requires it.
# Tests and tools (pytest-django, makemigrations) run without one.
SECRET_KEY = (
    os.environ["DJANGO_SECRET_KEY"]
    if os.environ.get("DJANGO_ENV") == "production"
    else os.environ.get("DJANGO_SECRET_KEY", "django-insecure-tests-and-tools-only")
)""",
    ("DJANGO_DEBUG",): 'DEBUG = os.environ.get("DJANGO_DEBUG") == "true"',
    ("DJANGO_ALLOWED_HOSTS",): "ALLOWED_HOSTS = "
    '[host for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if host]',
    ("STATIC_ROOT",): 'STATIC_ROOT = BASE_DIR / "staticfiles"',
    ("DB_HOST", "DATABASE_URL"): """\
# The platform's database: DB_* in ECS and run-task, DATABASE_URL in compose; SQLite else (the
# image build's collectstatic).
database_url = urlsplit(os.environ.get("DATABASE_URL", ""))
if database_url.scheme in ("postgres", "postgresql"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": database_url.hostname,
            "PORT": database_url.port or 5432,
            "NAME": database_url.path.removeprefix("/"),
            "USER": unquote(database_url.username or ""),
            "PASSWORD": unquote(database_url.password or ""),
        }
    }
elif "DB_HOST" in os.environ:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ["DB_HOST"],
            "PORT": os.environ.get("DB_PORT", "5432"),
            "NAME": os.environ["DB_NAME"],
            "USER": os.environ["DB_USER"],
            "PASSWORD": os.environ["DB_PASSWORD"],
        }
    }
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
    }""",
}


def found_in(files: list[Path], text: str) -> Path | None:
    return next((path for path in files if text in path.read_text(errors="replace")), None)


def health_module(contract: Contract) -> str:
    """Where the pasted views go: `health` beside the WSGI module (the project's package)."""
    package = contract.wsgi_application.partition(":")[0].rpartition(".")[0]
    return f"{package}.health" if package else "health"


def health_code(contract: Contract, liveness: bool, readiness: bool) -> str:
    http = [
        name for name, wanted in (("HttpResponse", liveness), ("JsonResponse", readiness)) if wanted
    ]
    imports = ["from django.db import DatabaseError, connection"] if readiness else []
    code = "\n".join([*imports, f"from django.http import {', '.join(http)}", ""])
    if liveness:
        code += HEALTH_MIDDLEWARE.format(health_path=contract.health_path)
    if readiness:
        code += READINESS_VIEW
    return code


def views_to_add(
    files: list[Path], project: Path, contract: Contract
) -> tuple[list[str], list[str]]:
    """What is found of the health middleware and readiness view (their paths in the code), and
    the code to paste for the rest."""
    paths = {"health-path": contract.health_path, "readiness-path": contract.readiness_path}
    named = {key: found_in(files, path.strip("/")) for key, path in paths.items()}
    found = [
        f"{key} {paths[key]} is named in {where.relative_to(project)}: taken as answered there"
        for key, where in named.items()
        if where is not None
    ]
    liveness, readiness = named["health-path"] is None, named["readiness-path"] is None
    if not (liveness or readiness):
        return found, []
    module = health_module(contract)
    snippets = [
        f"# new file {module.replace('.', '/')}.py:\n{health_code(contract, liveness, readiness)}"
    ]
    if liveness:
        snippets.append(f'# first in the settings\' MIDDLEWARE:\n"{module}.HealthMiddleware",')
    if readiness:
        route = contract.readiness_path.removeprefix("/")
        snippets.append(
            f"# in ROOT_URLCONF's module:\nfrom {module} import ready\n"
            f'# and in its urlpatterns:\npath("{route}", ready),'
        )
    return found, snippets


def settings_to_add(project: Path, settings_file: Path) -> str | None:
    """The platform's settings that the settings file (or its package) does not read yet."""
    package = settings_file.name == "__init__.py"
    files = sorted(settings_file.parent.glob("*.py")) if package else [settings_file]
    text = "\n".join(path.read_text(errors="replace") for path in files)
    lines = [code for names, code in SETTINGS.items() if not any(name in text for name in names)]
    if not lines:
        return None
    wanted = [
        "import os",
        *(["from urllib.parse import unquote, urlsplit"] if "urlsplit(" in "".join(lines) else []),
    ]
    imports = [line for line in wanted if line not in text]
    where = settings_file.relative_to(project)
    return "\n".join(
        [
            f"# in {where}: imports at the top, each setting in place of the one it replaces:",
            *imports,
            *lines,
        ]
    )


def still_to_add(files: list[Path], project: Path, contract: Contract, settings_file: Path) -> str:
    """What to paste, for what `files` (the project's code) do not show already."""
    found, snippets = views_to_add(files, project, contract)
    if settings := settings_to_add(project, settings_file):
        snippets.append(settings)
    if not snippets:
        return "\n".join([*found, "Nothing to paste: the project reads the platform's settings."])
    heading = "What the project must still have (docs/adopting.md section 3), as code to paste:"
    return "\n\n".join(["\n".join(found), heading, *snippets]).lstrip("\n")
