"""The platform is a distribution of its own (scripts/pyproject.toml): `uv build` makes a wheel
holding the CLI and the CDK constructs, which runs installed into a fresh environment, from a
project outside this checkout, without a file of the checkout."""

import json
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from hangar.core.paths import ROOT
from hangar.provision.docker import uv_executable

PLATFORM = ROOT / "scripts"
VERSION = tomllib.loads((PLATFORM / "pyproject.toml").read_text())["project"]["version"]

# Every module of both packages, imported in the fresh environment: where each was loaded from.
IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
import hangar, hangar_infra
names = []
for package in (hangar, hangar_infra):
    names.append(package.__name__)
    names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({name: sys.modules[name].__file__ for name in names}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    command = [uv_executable(), "build", "--package", "hangar", "--wheel", "--out-dir", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return next(out.glob("hangar-*.whl"))


@pytest.fixture(scope="module")
def environment(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel alone: its dependencies come from this environment's
    site-packages on PYTHONPATH (`run`), where the checkout's editable hangar is not (a .pth
    file, which Python reads in site directories only)."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    uv = uv_executable()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    install = [uv, "pip", "install", "--quiet", "--no-deps", "--python", str(venv / "bin/python")]
    subprocess.run([*install, str(wheel)], check=True)
    return venv


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adopting project outside the checkout before `hangar init` wrote its thin files: its
    pyproject.toml alone. The facts the CLI reads from them when it starts (infra/cdk.json's
    region, the Dockerfile's base image) come from the package's templates."""
    folder = tmp_path_factory.mktemp("adopter")
    (folder / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    return folder


def run(environment: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    return subprocess.run(
        [str(environment / "bin" / argv[0]), *argv[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_wheel_holds_the_cli_and_the_cdk_constructs_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"hangar", "hangar_infra", f"hangar-{VERSION}.dist-info"}
    assert "hangar/testing/plugin.py" in names
    # The platform's checks on the project, which the plugin collects from the installed package.
    assert {
        "hangar/testing/checks/unit/test_health.py",
        "hangar/testing/checks/infra/test_stages.py",
        "hangar_infra/synthesis.py",
    } <= set(names)
    assert "hangar_infra/app_factory.py" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_wheel_marks_both_packages_typed(wheel: Path) -> None:
    """PEP 561: without py.typed, mypy on an adopter's infra/app.py (`make lint`) stops at
    "module is installed, but missing library stubs or py.typed marker"."""
    names = zipfile.ZipFile(wheel).namelist()
    assert {"hangar/py.typed", "hangar_infra/py.typed"} <= set(names)


def test_the_installed_cli_reports_the_distributions_version(
    environment: Path, project: Path
) -> None:
    result = run(environment, "hangar", "--version", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"hangar {VERSION}"


def test_the_version_is_semver_and_in_the_changelog() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert f"## [{VERSION}]" in (PLATFORM / "CHANGELOG.md").read_text()


def test_the_installed_cli_runs_from_the_wheel_alone(environment: Path, project: Path) -> None:
    help_text = run(environment, "python", "-m", "hangar", "--help", cwd=project)
    assert help_text.returncode == 0, help_text.stderr
    assert "deploy-local" in help_text.stdout
    loaded = run(environment, "python", "-c", IMPORT_EVERY_MODULE, cwd=project)
    assert loaded.returncode == 0, loaded.stderr
    files = {name: Path(file) for name, file in json.loads(loaded.stdout).items()}
    assert len(files) > 100, "the check imports little"
    assert [name for name, file in files.items() if not file.is_relative_to(environment)] == []


def test_the_installed_cli_acts_on_the_project_it_runs_in(environment: Path, project: Path) -> None:
    """From a folder of the project: its root, not the environment the package sits in."""
    folder = project / "site"
    folder.mkdir(exist_ok=True)
    program = "from hangar.core.paths import ROOT; print(ROOT)"
    result = run(environment, "python", "-c", program, cwd=folder)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == project.resolve()


# What `make docker-provision`, host mode and the audit read from the package, where it is
# installed: LocalStack's lock and the stand-ins' recipes, with the lock's digest and the recipes'
# fingerprints (what decides a rebuild) equal to this checkout's.
PACKAGE_DATA = """
import json
from hangar.core.paths import LOCALSTACK_LOCK
from hangar.localstack.host import lock_digest
from hangar.provision.docker import STANDIN_DIR, files_fingerprint, localstack_requirements
recipes = {p.name: p for p in sorted(STANDIN_DIR.iterdir())}
print(json.dumps({
    "lock": str(LOCALSTACK_LOCK),
    "lock_digest": lock_digest(),
    "requirements": localstack_requirements(),
    "recipes": {name: str(path) for name, path in recipes.items()},
    "fingerprints": {n: [f.hex() for f in files_fingerprint(p)] for n, p in recipes.items()},
    "entrypoints_executable": all(
        (p / "entrypoint.sh").stat().st_mode & 0o111 for p in recipes.values()
    ),
}))
"""


def test_the_installed_package_finds_localstacks_lock_and_the_standin_recipes(
    environment: Path, project: Path
) -> None:
    """A repository that installs the package has no Hangar checkout: provisioning builds the
    stand-ins from the package's recipes, host mode installs LocalStack from its lock."""
    from hangar.core.paths import LOCALSTACK_LOCK
    from hangar.localstack.host import lock_digest
    from hangar.provision.docker import STANDIN_DIR, files_fingerprint

    result = run(environment, "python", "-c", PACKAGE_DATA, cwd=project)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["lock"]).is_relative_to(environment)
    assert found["requirements"] == LOCALSTACK_LOCK.read_text()
    assert found["lock_digest"] == lock_digest()
    assert set(found["recipes"]) == {"localstack", "postgres"}
    assert all(Path(path).is_relative_to(environment) for path in found["recipes"].values())
    checkout = {p.name: [f.hex() for f in files_fingerprint(p)] for p in STANDIN_DIR.iterdir()}
    assert found["fingerprints"] == checkout
    assert found["entrypoints_executable"]
