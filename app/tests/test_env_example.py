"""The .env.example files list every environment variable the settings read: the platform's in the
repository's (rendered by `hangar init`), the sample's own beside it in app/."""

import ast
from pathlib import Path

from config import environment

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_MODULES = [ROOT / "app/config/settings.py", ROOT / "app/config/environment.py"]


def variables_read(source: str) -> set[str]:
    """Names passed as string literals to `env.<reader>(...)` (env: a django-environ Env)."""
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "env"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def documented(text: str) -> set[str]:
    return {
        line.split("=", 1)[0].strip()
        for line in text.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }


def test_every_variable_the_settings_read_is_in_env_example():
    read = set().union(*(variables_read(path.read_text()) for path in SETTINGS_MODULES))
    # environment.database() reads these through a loop variable, not a literal.
    read |= set(environment.DB_PARTS)

    listed = documented((ROOT / ".env.example").read_text())
    listed |= documented((ROOT / "app" / ".env.example").read_text())
    missing = read - listed

    assert "UPLOADS_REQUIRE_LOGIN" in read  # the scan sees the settings' own reads
    assert missing == set(), f"add to app/.env.example: {sorted(missing)}"


def test_the_check_catches_an_undocumented_variable():
    source = 'env.str("DJANGO_ENV")\nenv.bool("NOT_DOCUMENTED_ANYWHERE", default=False)\n'

    assert variables_read(source) - documented("DJANGO_ENV=development\n") == {
        "NOT_DOCUMENTED_ANYWHERE"
    }
