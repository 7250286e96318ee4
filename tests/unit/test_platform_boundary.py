"""The platform learns about the project only from `[tool.hangar]`: no platform file names the
project's packages, modules, management commands, folder or the variables it declares.

The names come from the project itself (its packages and their modules, its management
commands) and from its contract, so the check holds for whichever project a checkout carries.
KNOWN is, by the project folder they are about, the files allowed to name that project: none for
the sample, and the proofs that adopt LocalLibrary, which name its pages (in the copy
tests/e2e/test_adopted_project.py moves it into, the two modules that adopt it, with the names of
its contract in tests/local_library.py). A file that stops naming the checkout's project
must leave its list, and a file not on it must name nothing.
"""

import ast
import re
import subprocess
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

from hangar.core.contract import contract
from hangar.core.paths import ROOT

PLATFORM_FOLDERS = ("scripts/", "infra/", "docker/", ".github/", ".devcontainer/", "tests/")
PLATFORM_FILES = (
    "Makefile",
    "compose.yaml",
    "Dockerfile",
    ".pre-commit-config.yaml",
    ".dockerignore",
)
# Projects written elsewhere, vendored as published (a fixture folder with a SOURCE.md): projects,
# not the platform, whatever their URLs and modules are called.
VENDORED_PROJECTS = tuple(
    f"{source.parent.relative_to(ROOT).as_posix()}/"
    for source in (ROOT / "tests" / "fixtures").glob("*/SOURCE.md")
)
KNOWN = {
    "app": set(),
    "library": {
        "tests/e2e/test_adopted_project.py",
        "tests/e2e/test_locallibrary_in_place.py",
        "tests/local_library.py",
    },
}


def project_names(project: Path, table: dict) -> re.Pattern[str]:
    """What would name this project: imports of its packages, its modules, its folders and URL
    prefixes, `manage.py <its command>`, the variables its contract declares, its folder."""
    patterns = []
    for init in sorted(project.glob("*/__init__.py")):
        package = init.parent
        if package.name == "tests":
            continue
        modules = sorted(
            m.stem if m.is_file() else m.name
            for m in package.iterdir()
            if (m.suffix == ".py" and m.stem != "__init__") or (m / "__init__.py").exists()
        )
        patterns.append(rf"\b(?:from|import) {package.name}\b")
        if modules:
            patterns.append(rf"\b{package.name}\.(?:{'|'.join(modules)})\b")
        patterns.append(rf"(?<![\w.-])/?{package.name}/")
    for command in sorted(project.glob("*/management/commands/[!_]*.py")):
        patterns.append(rf"manage\.py\W+{command.stem}\b")
    patterns += [rf"\b{name}\b" for name in sorted(declared_variables(table))]
    patterns.append(rf"(?<![\w/.-]){re.escape(project.name)}/")
    return re.compile("|".join(patterns))


def declared_variables(table: dict) -> set[str]:
    names = set()
    for value in table.values():
        if isinstance(value, dict):
            names |= {k for k in value if re.fullmatch(r"[A-Z][A-Z0-9_]+", k)}
            names |= declared_variables(value)
        elif isinstance(value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", value):
            names.add(value)
    return names


def platform_files() -> Iterable[str]:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        platform = name.startswith(PLATFORM_FOLDERS) or name in PLATFORM_FILES
        if platform and not name.startswith(VENDORED_PROJECTS) and (ROOT / name).is_file():
            yield name


def naming(pattern: re.Pattern[str], files: Iterable[str]) -> dict[str, set[str]]:
    found = {}
    for name in files:
        try:
            text = (ROOT / name).read_text()
        except UnicodeDecodeError:
            continue
        if hits := {match.group(0) for match in pattern.finditer(text)}:
            found[name] = hits
    return found


@pytest.fixture(scope="module")
def sample_names() -> re.Pattern[str]:
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hangar"]
    return project_names(contract().project_path, table)


@pytest.fixture(scope="module")
def named(sample_names: re.Pattern[str]) -> dict[str, set[str]]:
    return naming(sample_names, platform_files())


def test_no_platform_file_names_the_project(named: dict[str, set[str]]) -> None:
    known = KNOWN.get(contract().project_dir, set())
    new = {name: sorted(hits) for name, hits in named.items() if name not in known}
    assert not new, f"platform files that name the project (take it from [tool.hangar]): {new}"


def test_the_known_list_only_shrinks(named: dict[str, set[str]]) -> None:
    stale = sorted(KNOWN.get(contract().project_dir, set()) - set(named))
    assert not stale, f"these no longer name the project: remove them from KNOWN: {stale}"


def test_the_check_sees_each_kind_of_name(tmp_path: Path) -> None:
    project = tmp_path / "site"
    (project / "shop" / "management" / "commands").mkdir(parents=True)
    (project / "shop" / "__init__.py").write_text("")
    (project / "shop" / "models.py").write_text("")
    (project / "shop" / "management" / "commands" / "restock.py").write_text("")
    pattern = project_names(project, {"queues": {"jobs": {"env": "JOBS_QUEUE_URL"}}})
    for text in (
        "from shop.models import Item",
        "import shop",
        "'shop.models'",
        "python manage.py restock",
        '["python", "manage.py", "restock"]',
        "os.environ['JOBS_QUEUE_URL']",
        "mypy site/",
        "url = '/shop/'",
    ):
        assert pattern.search(text), text
    for text in ("config.shop_name", "the shopping list", "/app/site-packages", "JOBS_QUEUE"):
        assert not pattern.search(text), text


def project_modules(project: Path) -> set[str]:
    """The top-level modules the project's folder puts on the path: its packages and modules."""
    packages = {init.parent.name for init in project.glob("*/__init__.py")}
    return (packages | {module.stem for module in project.glob("*.py")}) - {"tests", "conftest"}


def imported_modules(source: str) -> set[str]:
    """The top-level modules `source` imports: import statements and importlib.import_module()
    with a literal name (relative imports stay inside their own package)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return {name.split(".")[0] for name in found}


def importing(modules: set[str], files: Iterable[str]) -> dict[str, list[str]]:
    return {
        name: sorted(hits)
        for name in files
        if name.endswith(".py") and (hits := imported_modules((ROOT / name).read_text()) & modules)
    }


def test_no_platform_file_imports_the_project() -> None:
    """Hangar's code and tests reach the project through the contract and its processes (manage.py,
    the server, the image), never by importing it: they pass with any project in the folder."""
    found = importing(project_modules(contract().project_path), platform_files())
    assert not found, f"platform files that import the project: {found}"


def test_the_import_check_sees_each_way_of_importing(tmp_path: Path) -> None:
    project = tmp_path / "site"
    (project / "shop").mkdir(parents=True)
    (project / "shop" / "__init__.py").write_text("")
    (project / "manage.py").write_text("")
    (project / "tests").mkdir()
    (project / "tests" / "__init__.py").write_text("")
    modules = project_modules(project)
    assert modules == {"shop", "manage"}
    for source in (
        "import shop",
        "import shop.models as models",
        "from shop.models import Item",
        "from shop import views",
        "def f():\n    import manage",
        "importlib.import_module('shop.tasks')",
    ):
        assert imported_modules(source) & modules, source
    for source in ("import shopping", "from . import shop", "from hangar import shop", "'shop'"):
        assert not imported_modules(source) & modules, source


def test_pyprojects_tool_tables_but_the_contract_name_nothing_of_the_project(
    sample_names: re.Pattern[str],
) -> None:
    """ruff, mypy, coverage and pytest are configured for any project: [tool.hangar] names it."""
    tables = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    platform = {name: table for name, table in tables.items() if name != "hangar"}
    text = repr(platform)
    folder = re.compile(rf"['\"]{re.escape(contract().project_dir)}['\"]")
    hits = {m.group(0) for pattern in (sample_names, folder) for m in pattern.finditer(text)}
    assert not hits, f"pyproject's platform tables name the project: {sorted(hits)}"
