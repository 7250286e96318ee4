"""`hangar lint-imports` (in `make lint`) holds the CLI's packages to their layers and keeps the CDK
app off everything of the CLI but its core, and the CLI off the CDK and the CDK app: the checkout
passes, a copy with one crossing import fails."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hangar.core.paths import ROOT


def lint_imports(checkout: Path) -> subprocess.CompletedProcess[str]:
    """The real command, run on `checkout`'s scripts/ (hangar, hangar_infra) and pyproject.toml."""
    program = (
        f"import sys; sys.path.insert(0, {str(checkout / 'scripts')!r}); "
        "from hangar.cli import main; sys.exit(main(['lint-imports']))"
    )
    return subprocess.run(
        [sys.executable, "-c", program], cwd=checkout, capture_output=True, text=True, check=False
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout whose CLI package, CDK constructs and pyproject are copies (the rest links
    back)."""
    copied = {"scripts", "pyproject.toml"}
    for entry in ROOT.iterdir():
        if entry.name not in copied:
            (tmp_path / entry.name).symlink_to(entry)
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("hangar", "hangar_infra"):
        shutil.copytree(ROOT / "scripts" / package, tmp_path / "scripts" / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_checkout_keeps_its_layers(checkout: Path) -> None:
    result = lint_imports(checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_core_importing_a_higher_layer_is_refused(checkout: Path) -> None:
    shortcut = checkout / "scripts" / "hangar" / "core" / "shortcut.py"
    shortcut.write_text("from hangar.deploy import stacks  # noqa: F401\n")
    result = lint_imports(checkout)
    assert result.returncode == 1
    assert "hangar.core is not allowed to import hangar.deploy" in result.stdout
    assert "an import crosses the CLI's layers" in result.stderr


def test_the_cdk_app_importing_the_deploy_tooling_is_refused(checkout: Path) -> None:
    naming = checkout / "scripts" / "hangar_infra" / "naming.py"
    naming.write_text(naming.read_text() + "\nimport hangar.deploy.stacks  # noqa\n")
    result = lint_imports(checkout)
    assert result.returncode == 1
    assert "hangar_infra is not allowed to import hangar.deploy" in result.stdout


def test_the_cli_importing_the_cdk_or_the_cdk_app_is_refused(checkout: Path) -> None:
    package = checkout / "scripts" / "hangar"
    # What bench did through a sys.path edit: the stages' facts are in hangar.core.stages.
    (package / "bench" / "sizes.py").write_text("from hangar_infra import naming  # noqa: F401\n")
    (package / "core" / "sizes.py").write_text("import aws_cdk  # noqa: F401\n")
    (package / "deploy" / "sizes.py").write_text("from constructs import Construct  # noqa: F401\n")
    result = lint_imports(checkout)
    assert result.returncode == 1
    for refused in ("hangar_infra", "aws_cdk", "constructs"):
        assert f"hangar is not allowed to import {refused}" in result.stdout
