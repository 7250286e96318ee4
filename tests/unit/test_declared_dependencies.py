"""Every third-party package the code imports is declared by its own distribution, not only locked.

A package that arrives through another one (the docker SDK through testcontainers, say) leaves
with it: the lock drops it when the other stops needing it, and the import breaks. Two
distributions, two checks: the platform (scripts/pyproject.toml: hangar, hangar_infra) declares
what it imports in its dependencies and extras, since an adopter installs nothing else with it;
the reference project (the root pyproject.toml) what its app, CDK entry point and tests import.
"""

import ast
import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hangar.core.contract import contract
from hangar.core.paths import ROOT

PLATFORM = ROOT / "scripts"
PLATFORM_DIRS = (PLATFORM / "hangar", PLATFORM / "hangar_infra")
PROJECT_DIRS = (ROOT / contract().project_dir, ROOT / "infra", ROOT / "tests")


def declared(pyproject: dict) -> set[str]:
    """The distributions `pyproject` names: dependencies, extras and dependency groups."""
    requirements = list(pyproject["project"]["dependencies"])
    for extra in pyproject["project"].get("optional-dependencies", {}).values():
        requirements += extra
    for group in pyproject.get("dependency-groups", {}).values():
        requirements += [r for r in group if isinstance(r, str)]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def imported_modules(files: Iterable[Path]) -> dict[str, Path]:
    """Top-level module name → the first file importing it (absolute imports only)."""
    found: dict[str, Path] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path)
    return found


def undeclared(modules: dict[str, Path], declared_names: set[str]) -> list[str]:
    """Imports served by an installed distribution the project does not declare.

    Names no installed distribution provides are the checkout's own modules (app, hangar, ...).
    """
    providers = packages_distributions()
    problems = []
    for module, path in sorted(modules.items()):
        if module in sys.stdlib_module_names or module not in providers:
            continue
        names = {canonicalize_name(d) for d in providers[module]}
        if not names & declared_names:
            problems.append(
                f"{path.relative_to(ROOT)} imports {module} ({', '.join(sorted(names))}), "
                "which pyproject.toml does not declare"
            )
    return problems


def python_files(folders: Iterable[Path]) -> list[Path]:
    return [path for folder in folders for path in folder.rglob("*.py")]


def test_every_package_the_platform_imports_is_declared_by_the_platform() -> None:
    pyproject = tomllib.loads((PLATFORM / "pyproject.toml").read_text())
    assert undeclared(imported_modules(python_files(PLATFORM_DIRS)), declared(pyproject)) == []


def test_every_package_the_reference_project_imports_is_declared_by_it() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert undeclared(imported_modules(python_files(PROJECT_DIRS)), declared(pyproject)) == []


def test_the_platform_declares_its_imports_itself_not_through_the_project() -> None:
    """Django, which the sample declares too: without the platform's own entry the check fails."""
    pyproject = tomllib.loads((PLATFORM / "pyproject.toml").read_text())
    modules = imported_modules(python_files(PLATFORM_DIRS))
    assert "django" in modules, "the check sees nothing"
    problems = undeclared(modules, declared(pyproject) - {"django"})
    assert [problem.split(" imports ")[1] for problem in problems] == [
        "django (django), which pyproject.toml does not declare"
    ]


def test_the_check_rejects_an_import_that_arrives_only_through_another_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    without_docker = declared(pyproject) - {"docker"}
    problems = undeclared({"docker": ROOT / "tests" / "x.py"}, without_docker)
    assert problems == ["tests/x.py imports docker (docker), which pyproject.toml does not declare"]
