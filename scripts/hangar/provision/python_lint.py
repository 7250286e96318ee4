"""`make lint`'s Python checks: Hangar's rules on Hangar's code, the team's on the project's.

Hangar's code is everything but the project's folder (`[tool.hangar]` project-dir): ruff with
pyproject's [tool.ruff], mypy with the package's mypy.ini. The project's folder gets what its team
configured in it:
- ruff: a ruff configuration in the folder (ruff.toml, .ruff.toml, or a pyproject.toml with
  [tool.ruff]) is used for its files (ruff's hierarchical configuration), format check included.
  Without one, only code that cannot run fails (syntax errors, undefined names: the E9, F63,
  F7, F82 set GitHub's Python starter workflow gates on), and its formatting is its own.
- mypy: a mypy configuration in the folder (mypy.ini, .mypy.ini, setup.cfg with [mypy], or a
  pyproject.toml with [tool.mypy]) opts the project in, run from its folder with that
  configuration; django-stubs' plugin takes the settings module from `[tool.hangar]`
  settings-module (DJANGO_SETTINGS_MODULE). Without one, mypy does not read the project.
- Django writes the migrations: ruff never reads a project's `migrations` folders.
"""

import argparse
import configparser
import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hangar.core.console import step
from hangar.core.contract import Contract, contract
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.provision.lint_tools import venv_tool

# Hangar's code mypy reads (tests/ is not typed yet: its conftest modules share one name).
HANGAR_TYPED = ("scripts", "infra")
# What fails in a project folder without its own ruff configuration: code that cannot run.
RUNNABLE_CODE_RULES = "E9,F63,F7,F82"
RUFF_CONFIGS = ("ruff.toml", ".ruff.toml")
MYPY_CONFIGS = ("mypy.ini", ".mypy.ini")
# Hangar's mypy settings, from the package wherever it is installed (the file says why).
HANGAR_MYPY_CONFIG = Path(__file__).with_name("mypy.ini")


@dataclass(frozen=True)
class Check:
    """One tool run: what it checks (for the console), the command, where it runs."""

    title: str
    command: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)


def _has_table(pyproject: Path, tool: str) -> bool:
    if not pyproject.is_file():
        return False
    try:
        return tool in tomllib.loads(pyproject.read_text()).get("tool", {})
    except tomllib.TOMLDecodeError as error:
        raise HangarError(
            f"{pyproject} is not valid TOML ({error}): lint cannot tell which rules it sets",
            hint="fix the file (ruff and mypy would refuse it too)",
        ) from None


def has_ruff_config(folder: Path) -> bool:
    return any((folder / name).is_file() for name in RUFF_CONFIGS) or _has_table(
        folder / "pyproject.toml", "ruff"
    )


def has_mypy_config(folder: Path) -> bool:
    if any((folder / name).is_file() for name in MYPY_CONFIGS):
        return True
    setup_cfg = configparser.ConfigParser()
    try:
        setup_cfg.read(folder / "setup.cfg")
    except configparser.Error as error:
        raise HangarError(
            f"{folder / 'setup.cfg'} cannot be read ({error}): lint cannot tell if it sets mypy's",
            hint="fix the file (mypy would refuse it too)",
        ) from None
    return setup_cfg.has_section("mypy") or _has_table(folder / "pyproject.toml", "mypy")


def ruff_checks(root: Path, project: Contract, *, fix: bool = False) -> list[Check]:
    """ruff over Hangar's code, then over the project's folder as its team configured it."""
    folder = root / project.project_dir
    ruff = (venv_tool("ruff"),)
    lint = ("check", "--fix") if fix else ("check",)
    style = ("format",) if fix else ("format", "--check")
    # Absolute patterns: they name the same folder whichever directory ruff runs in.
    hangar_only = ("--force-exclude", "--extend-exclude", str(folder))
    no_migrations = ("--force-exclude", "--extend-exclude", str(folder / "**" / "migrations"))
    checks = [
        Check("ruff: Hangar's code, Hangar's rules", (*ruff, *lint, *hangar_only, "."), root),
        Check("ruff format: Hangar's code", (*ruff, *style, *hangar_only, "."), root),
    ]
    where = project.project_dir
    if has_ruff_config(folder):
        return [
            *checks,
            Check(f"ruff: {where}/, its own rules", (*ruff, *lint, *no_migrations, where), root),
            Check(
                f"ruff format: {where}/, its own style",
                (*ruff, *style, *no_migrations, where),
                root,
            ),
        ]
    if fix:
        return checks
    floor = ("--isolated", "--select", RUNNABLE_CODE_RULES)
    title = f"ruff: {where}/ has no ruff configuration: syntax errors and undefined names"
    return [*checks, Check(title, (*ruff, "check", *floor, *no_migrations, where), root)]


def mypy_checks(root: Path, project: Contract) -> list[Check]:
    """mypy over Hangar's code, and over the project's folder when its team opted in."""
    mypy = (sys.executable, "-m", "mypy")
    # A repository that installs the package holds only its thin files of Hangar's code.
    typed = [name for name in HANGAR_TYPED if (root / name).exists()]
    hangars = (*mypy, "--config-file", str(HANGAR_MYPY_CONFIG), *typed)
    checks = [Check("mypy: Hangar's code", hangars, root)] if typed else []
    folder = root / project.project_dir
    if not has_mypy_config(folder):
        return checks
    # Its own configuration, found in its folder; the cache stays out of the folder (the image).
    cache = ("--cache-dir", str(root / ".mypy_cache" / "project"))
    settings = {"DJANGO_SETTINGS_MODULE": project.settings_module}
    title = f"mypy: {project.project_dir}/, its own configuration"
    return [*checks, Check(title, (*mypy, *cache, "."), folder, settings)]


def run_check(check: Check) -> None:
    with step(check.title):
        env = {**os.environ, **check.env}
        exit_code = subprocess.run(check.command, cwd=check.cwd, env=env, check=False).returncode
        if exit_code:
            raise HangarError(f"{check.title}: exit {exit_code}")


def run_checks(checks: list[Check], hint: str = "fix the findings above") -> int:
    """Run every check (all of them, so one run shows every finding)."""
    failed = []
    for check in checks:
        try:
            run_check(check)
        except HangarError:
            failed.append(check.title)
    if failed:
        raise HangarError(f"failed: {'; '.join(failed)}", hint=hint)
    return 0


# Which rules hold where: the one question a finding in the project's folder raises.
WHERE_RULES_COME_FROM = "docs/adopting.md says which rules apply to the project's folder"


def ruff(args: argparse.Namespace) -> int:
    hint = f"fix the findings above (`make fmt` fixes what ruff can); {WHERE_RULES_COME_FROM}"
    return run_checks(ruff_checks(ROOT, contract(), fix=args.fix), hint)


def typecheck(args: argparse.Namespace) -> int:
    hint = f"fix the findings above; {WHERE_RULES_COME_FROM}"
    return run_checks(mypy_checks(ROOT, contract()), hint)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ruff",
        help="ruff check and format check: Hangar's rules on Hangar's code, the project's own "
        "on its folder (part of `make lint`; --fix: `make fmt`)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--fix", action="store_true", help="format and fix instead of checking")
    parser.set_defaults(func=ruff)
    subparsers.add_parser(
        "typecheck",
        help="mypy over Hangar's code, and the project's when its folder has a mypy "
        "configuration (part of `make lint`)",
    ).set_defaults(func=typecheck)
