"""`hangar init`: write `[tool.hangar]` and the thin files for the Django project of an existing
repository.

It finds the project where it is (manage.py, its settings module, the WSGI application) and
never moves it; the contract it writes is checked by the loader every command uses before it
replaces pyproject.toml. Beside it go the thin files (Makefile, compose.yaml, Dockerfile, ...:
hangar.adopt.thin_files) and their record for `hangar upgrade`. Without --force it replaces
nothing: an existing contract or file stops it before it writes anything. Then it prints what the
project must still add (docs/adopting.md section 3).
"""

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hangar.adopt.snippets import still_to_add
from hangar.adopt.thin_files import (
    RECORD,
    Record,
    names,
    package_version,
    rendered,
    repository,
    write_file,
    write_record,
)
from hangar.core.contract import (
    FARGATE_PLATFORMS,
    SERVICE_NAME_FORM,
    SERVICE_NAME_PATTERN,
    Contract,
    ContractError,
    load,
)
from hangar.core.errors import HangarError

# docs/adopting.md section 2's values for what a project need not choose.
DEFAULTS: dict[str, str | int] = {
    "health-path": "/healthz",
    "readiness-path": "/readyz",
    "container-port": 8000,
    "image-platform": FARGATE_PLATFORMS[0],
}
# Folders that hold environments or tools, not the project: never searched for manage.py.
ENVIRONMENT_FOLDERS = frozenset({"node_modules", "site-packages", "__pycache__"})
# `[tool.hangar]` and its sub-tables, up to the next other table and the comment lines right
# above it (that table's).
HANGAR_TABLES = re.compile(
    r"^\[tool\.hangar[].].*?(?=(?:^#[^\n]*\n)*^\[(?!tool\.hangar[].])|\Z)", re.M | re.S
)


def without_contract(pyproject: str) -> str:
    """The pyproject without `[tool.hangar]` and its sub-tables; the other tables as they are."""
    return HANGAR_TABLES.sub("", pyproject).rstrip("\n")


def project_files(folder: Path) -> list[Path]:
    """The .py files under `folder`, leaving out hidden folders and environments (a folder with
    a pyvenv.cfg is a virtual environment)."""
    found = []
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".")
            and name not in ENVIRONMENT_FOLDERS
            and not (Path(parent) / name / "pyvenv.cfg").exists()
        )
        found += [Path(parent) / name for name in sorted(files) if name.endswith(".py")]
    return found


def project_folder(repo: Path, project_dir: str | None) -> Path:
    """The folder holding the project's manage.py: the one under `repo`, or `project_dir`."""
    if project_dir is not None:
        folder = (repo / project_dir).resolve()
        if not folder.is_relative_to(repo):
            raise HangarError(f"--project-dir {project_dir} is outside {repo}; name a folder in it")
        if not (folder / "manage.py").is_file():
            raise HangarError(f"no manage.py in {folder}; pass the folder that holds manage.py")
        return folder
    found = [path.parent for path in project_files(repo) if path.name == "manage.py"]
    if not found:
        raise HangarError(
            f"no manage.py under {repo}; run hangar init in a Django project's repository "
            "(or pass --repo)"
        )
    if len(found) > 1:
        listed = ", ".join(str(folder.relative_to(repo) / "manage.py") for folder in found)
        raise HangarError(
            f"several manage.py under {repo}: {listed}; pass --project-dir with the folder of "
            "the one to ship"
        )
    return found[0]


def parsed(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as error:
        raise HangarError(
            f"cannot parse {path}: {error}; fix it, then run hangar init again"
        ) from None


def settings_module_of(manage_py: Path) -> str:
    """manage.py's `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")`."""
    for node in ast.walk(parsed(manage_py)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and len(node.args) == 2
            and all(isinstance(arg, ast.Constant) for arg in node.args)
            and getattr(node.args[0], "value", None) == "DJANGO_SETTINGS_MODULE"
            and isinstance(value := getattr(node.args[1], "value", None), str)
        ):
            return value
    raise HangarError(
        f"{manage_py} sets no default settings module; add "
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', '<package>.settings') as "
        "django-admin startproject writes it"
    )


def module_file(project: Path, module: str) -> Path | None:
    """The file of a dotted module inside the project folder, a package's __init__.py included."""
    base = project.joinpath(*module.split("."))
    candidates = (base.parent / f"{base.name}.py", base / "__init__.py")
    return next((path for path in candidates if path.is_file()), None)


def assigned_string(module: ast.Module, name: str) -> str | None:
    """The string a top-level `name = "..."` assigns."""
    for node in module.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None


def wsgi_application_of(project: Path, settings_module: str, settings_file: Path) -> str:
    """`module:callable` from the settings' WSGI_APPLICATION, else the wsgi.py nearest above the
    settings module (where startproject puts it)."""
    if setting := assigned_string(parsed(settings_file), "WSGI_APPLICATION"):
        module, _, callable_name = setting.rpartition(".")
        if not module or module_file(project, module) is None:
            raise HangarError(
                f"WSGI_APPLICATION = {setting!r} in {settings_file} names no module of "
                f"{project}; write '<module>.<callable>' as startproject does, then run "
                "hangar init again"
            )
        return f"{module}:{callable_name}"
    packages = settings_module.split(".")[:-1]
    for depth in range(len(packages), -1, -1):
        module = ".".join([*packages[:depth], "wsgi"])
        if module_file(project, module) is not None:
            return f"{module}:application"
    raise HangarError(
        f"no WSGI application: {settings_file} sets no WSGI_APPLICATION and no wsgi.py is beside "
        "it; add the wsgi.py django-admin startproject writes"
    )


def default_service_name(folder: str) -> str:
    """The repository folder's name as the contract takes a service name."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.lower())
    name = re.sub(r"^[^a-z]+", "", name)[:16].strip("-")
    if not SERVICE_NAME_PATTERN.match(name):
        raise HangarError(
            f"cannot make a service name of the folder name {folder!r}; pass --service-name NAME "
            f"({SERVICE_NAME_FORM})"
        )
    return name


# What `make test` runs pytest and coverage with (docs/adopting.md section 6): the plugin that
# reads [tool.hangar] and collects the platform's checks, and the project's folder, as the plugin
# sets its variables, for coverage to measure (this repository's pyproject.toml measures the same,
# tests/unit/test_init.py).
PYTEST_TABLE = """[tool.pytest.ini_options]
# hangar.testing.plugin: the settings module and the project's tests from [tool.hangar], and the
# platform's checks on the project (docs/adopting.md section 6).
addopts = "-ra --strict-markers -p hangar.testing.plugin"
"""
COVERAGE_TABLE = """[tool.coverage.run]
source = ["${HANGAR_PROJECT_DIR?}"]
omit = [
    "${HANGAR_PROJECT_DIR?}/*/migrations/*",
    "${HANGAR_PROJECT_DIR?}/manage.py",
    "${HANGAR_WSGI_PACKAGE_DIR?}/wsgi.py",
    "${HANGAR_WSGI_PACKAGE_DIR?}/asgi.py",
]
"""
# pytest reads the first of these it finds, before pyproject.toml's table (its rootdir rules).
PYTEST_FILES = {
    "pytest.ini": "",
    ".pytest.ini": "",
    "tox.ini": "[pytest]",
    "setup.cfg": "[tool:pytest]",
}


def has_pytest_configuration(repo: Path, tools: dict[str, Any]) -> bool:
    return "pytest" in tools or any(
        (repo / name).is_file() and marker in (repo / name).read_text(errors="replace")
        for name, marker in PYTEST_FILES.items()
    )


def make_test_tables(repo: Path, tools: dict[str, Any]) -> tuple[str, str]:
    """The pytest and coverage tables to write where the repository configures neither, and the
    lines to merge by hand into the configuration it has (none where they are there already)."""
    write, merge = [], []
    if "hangar.testing.plugin" not in str(tools.get("pytest")):
        if has_pytest_configuration(repo, tools):
            merge.append("# in your pytest configuration's addopts:\n-p hangar.testing.plugin")
        else:
            write.append(PYTEST_TABLE)
    if "HANGAR_PROJECT_DIR" not in str(tools.get("coverage")):
        if "coverage" in tools or (repo / ".coveragerc").is_file():
            merge.append(
                f"# in your coverage configuration, for make test's --cov:\n{COVERAGE_TABLE}"
            )
        else:
            write.append(COVERAGE_TABLE)
    return "\n".join(write), "\n\n".join(merge)


def contract_table(entries: dict[str, str | int]) -> str:
    # JSON's strings and integers are TOML's basic strings and integers.
    lines = [f"{key} = {json.dumps(value)}" for key, value in entries.items()]
    return "\n".join(
        [
            "[tool.hangar]",
            "# Written by `hangar init`; docs/adopting.md says what each entry does.",
            *lines,
            "",
        ]
    )


def pyproject_without_contract(pyproject: Path, force: bool) -> str:
    """The repository's pyproject text to add the contract to (a new one when there is none)."""
    if not pyproject.exists():
        return ""
    text = pyproject.read_text()
    if "hangar" not in tool_tables(pyproject, text):
        return text.rstrip("\n")
    if not force:
        raise HangarError(
            f"{pyproject} already has [tool.hangar]; edit it (docs/adopting.md), or run "
            "hangar init --force to replace it"
        )
    text = without_contract(text)
    if "hangar" in tool_tables(pyproject, text):
        raise HangarError(
            f"cannot remove [tool.hangar] from {pyproject}: it is not written as its own table; "
            "remove it by hand, then run hangar init"
        )
    return text


def tool_tables(pyproject: Path, text: str) -> dict[str, Any]:
    try:
        tool = tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError as error:
        raise HangarError(f"cannot read {pyproject}: {error}; fix it first") from None
    return tool if isinstance(tool, dict) else {}


def write_checked(pyproject: Path, text: str) -> Contract:
    """Replace pyproject.toml with `text` once the contract loader accepts it, else leave it."""
    staged = pyproject.with_name(".pyproject.toml.hangar-init")
    try:
        staged.write_text(text)
        if pyproject.exists():
            shutil.copymode(pyproject, staged)
        written = load(staged)
        staged.replace(pyproject)
    except ContractError as error:
        raise HangarError(f"{error}; nothing was written") from None
    except OSError as error:
        raise HangarError(f"cannot write {pyproject}: {error}; nothing was written") from None
    finally:
        staged.unlink(missing_ok=True)
    return written


def settings_file_of(project: Path, settings_module: str) -> Path:
    if (found := module_file(project, settings_module)) is None:
        raise HangarError(
            f"the settings module {settings_module} that manage.py names is not in {project}; "
            "fix DJANGO_SETTINGS_MODULE in manage.py"
        )
    return found


def refuse_existing_files(repo: Path) -> None:
    if existing := [name for name in [*names(), RECORD] if (repo / name).exists()]:
        raise HangarError(
            f"{repo} already has {', '.join(existing)}; nothing was written: move them aside and "
            "run hangar init again (then merge what you need back in), or run hangar init --force "
            "to replace them"
        )


# What the platform writes into a repository and git must not take, each line with the paths
# that show whether a .gitignore already covers it (ignored, or for a `!` line, kept): the state,
# tools and wheelhouse (.hangar, hundreds of MB), the venv, the CDK CLI, synthesized templates,
# `make test`'s coverage data (and each process's own file, which pytest-cov combines and removes
# at the end of a run, and once left behind on CI's machine) and a developer's .env files
# (secrets), while the .env.example init writes stays tracked.
IGNORED = (
    (".hangar/", (".hangar/wheelhouse/hangar.whl",)),
    (".venv/", (".venv/pyvenv.cfg",)),
    ("node_modules/", ("node_modules/aws-cdk/package.json",)),
    ("cdk.out/", ("cdk.out/manifest.json",)),
    (".coverage", (".coverage",)),
    (".coverage.*", (".coverage.host.pid42.Xabcdefx.Habcdefghijh",)),
    (".env*", (".env", ".env.local")),
    ("!.env.example", (".env.example",)),
)


def git_ignores(scratch: Path, gitignore: str, paths: tuple[str, ...]) -> set[str]:
    """Those of `paths` that a repository with this root .gitignore, and nothing else (not a
    developer's global excludes), ignores: git's own matcher, in the scratch repository."""
    (scratch / ".gitignore").write_text(gitignore, encoding="utf-8")
    checked = subprocess.run(
        ["git", "-c", "core.excludesFile=", "check-ignore", "--no-index", *paths],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
    )
    return set(checked.stdout.splitlines())


def ignore_platform_files(repo: Path) -> list[str]:
    """Append to .gitignore (made when missing) the lines of IGNORED its rules do not already
    cover, after the team's own; the lines added."""
    gitignore = repo / ".gitignore"
    text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    added: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["git", "init", "--quiet", scratch], check=True, capture_output=True)
        for line, paths in IGNORED:
            candidate = "\n".join([text, *added]) + "\n"
            ignored = git_ignores(Path(scratch), candidate, paths)
            covered = not ignored if line.startswith("!") else ignored == set(paths)
            if not covered:
                added.append(line)
    if added:
        # After the team's lines, with one blank line between.
        before = text.rstrip("\n") + "\n\n" if text.strip() else ""
        block = "\n".join(["# What Hangar writes (hangar init)", *added])
        gitignore.write_text(f"{before}{block}\n", encoding="utf-8")
    return added


def write_thin_files(repo: Path) -> None:
    version = package_version()
    files = rendered(version)
    for name, text in files.items():
        write_file(repo, name, text)
    write_record(repo, Record(version, files))
    print(f"wrote {', '.join(files)} and {RECORD} (hangar {version})\n")


def run_init(args: argparse.Namespace) -> int:
    # The repository to adopt is where the team runs it, not this checkout (hangar.core.paths).
    repo = repository(args.repo)
    if shutil.which("git") is None:  # before any write: it checks what .gitignore keeps out
        raise HangarError(
            "git is not installed: hangar init needs it to check what .gitignore keeps out",
            hint="install git, then run hangar init again",
        )
    pyproject = repo / "pyproject.toml"
    existing = pyproject_without_contract(pyproject, args.force)
    if not args.force:
        refuse_existing_files(repo)
    project = project_folder(repo, args.project_dir)
    settings_module = settings_module_of(project / "manage.py")
    settings_file = settings_file_of(project, settings_module)
    service_name = args.service_name or default_service_name(repo.name)
    table = contract_table(
        {
            "service-name": service_name,
            "image-platform": DEFAULTS["image-platform"],
            "project-dir": project.relative_to(repo).as_posix(),
            "settings-module": settings_module,
            "wsgi-application": wsgi_application_of(project, settings_module, settings_file),
            **{key: DEFAULTS[key] for key in ("health-path", "readiness-path", "container-port")},
        }
    )
    tests_written, tests_to_merge = make_test_tables(repo, tool_tables(pyproject, existing))
    if not existing:
        existing = f'[project]\nname = {json.dumps(service_name)}\nversion = "0.1.0"'
    # Before the contract: `--force` replaces the contract at the end and keeps them in place.
    tables = "\n".join(filter(None, [tests_written, table]))
    written = write_checked(pyproject, f"{existing}\n\n{tables}")
    print(f"wrote [tool.hangar] into {pyproject}:\n\n{table}")
    if tests_written:
        print(f"and what make test runs pytest and coverage with:\n\n{tests_written}")
    write_thin_files(repo)
    if ignored := ignore_platform_files(repo):
        print(f"added to .gitignore: {' '.join(ignored)}\n")
    print(still_to_add(project_files(project), project, written, settings_file))
    if tests_to_merge:
        print(f"\nFor make test (docs/adopting.md section 6):\n\n{tests_to_merge}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init",
        help="write [tool.hangar] and the thin files (Makefile, compose.yaml, ...) for the Django "
        "project of an existing repository and print what it must still add",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--repo", help="the repository's folder (default: the current one)")
    parser.add_argument("--service-name", help="default: the repository folder's name")
    parser.add_argument(
        "--project-dir", help="the folder holding manage.py, when the repository has several"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing [tool.hangar] and thin files"
    )
    parser.set_defaults(func=run_init)
