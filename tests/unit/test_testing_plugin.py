"""hangar.testing.plugin: the project's tests are collected beside Hangar's from the contract."""

import dataclasses
import functools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from hangar.core.contract import ContractError, contract
from hangar.core.paths import ROOT
from hangar.provision.docker import uv_executable
from hangar.testing import plugin

SOME_PLATFORM_TESTS = "tests/unit/test_devserver.py"
# A repository that installs the package, the minimal fixture project in its root, and the pytest
# configuration `hangar init` writes.
MINIMAL_PYPROJECT = """
[tool.pytest.ini_options]
addopts = "-p hangar.testing.plugin"

[tool.hangar]
service-name = "notes"
image-platform = "linux/amd64"
project-dir = "."
settings-module = "notes.settings"
wsgi-application = "notes.wsgi:application"
health-path = "/ping"
readiness-path = "/ready"
container-port = 8081
"""


# For a test file outside tests/: this repository's pytest configuration, and no conftest of its.
THIS_CONFIGURATION = ("--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"))


def pytest_output(
    *arguments: str,
    python: Path | str = sys.executable,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> str:
    """What pytest, run by `python` in `cwd`, prints; it must succeed."""
    result = subprocess.run(
        [python, "-m", "pytest", "-p", "no:cacheprovider", *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def collected(
    *arguments: str,
    python: Path | str = sys.executable,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> list[str]:
    """The node ids `pytest --collect-only` lists, run by `python` in `cwd`."""
    output = pytest_output("--collect-only", "-q", *arguments, python=python, cwd=cwd, env=env)
    return [line for line in output.splitlines() if "::" in line]


def platform_checks(node_ids: list[str]) -> set[str]:
    """The modules of hangar.testing.checks the node ids are in."""
    return {
        node.split("::")[0].rpartition("/")[2]
        for node in node_ids
        if node.split("::")[0].endswith(("test_health.py", "test_stages.py"))
    }


def project_tests(node_ids: list[str]) -> list[str]:
    project_dir = contract().project_path.relative_to(ROOT).as_posix()
    return [node for node in node_ids if node.startswith(f"{project_dir}/")]


def test_pytest_without_paths_collects_the_projects_tests_beside_hangars() -> None:
    # testpaths narrowed to one module: collecting every layer took 50 s under load.
    node_ids = collected("-o", f"testpaths={SOME_PLATFORM_TESTS}")
    assert project_tests(node_ids), "make test would not run the project's own tests"
    assert any(node.startswith("tests/") for node in node_ids)
    assert platform_checks(node_ids) == {"test_health.py", "test_stages.py"}


def test_named_paths_collect_only_those_unless_the_projects_tests_are_asked_for() -> None:
    assert not project_tests(collected(SOME_PLATFORM_TESTS))
    assert not platform_checks(collected(SOME_PLATFORM_TESTS))
    asked = collected(SOME_PLATFORM_TESTS, "--project-tests")
    assert project_tests(asked)
    assert len(asked) == len(set(asked)), "a test collected twice"


def test_the_platform_checks_of_a_layer_join_named_paths_when_asked_for() -> None:
    unit = collected(SOME_PLATFORM_TESTS, "--platform-checks", "unit")
    assert platform_checks(unit) == {"test_health.py"}
    assert not project_tests(unit)
    infra = collected(SOME_PLATFORM_TESTS, "--platform-checks", "infra")
    assert platform_checks(infra) == {"test_stages.py"}


def test_a_repository_without_testpaths_collects_its_project_and_the_checks(tmp_path: Path) -> None:
    """As in a repository made by startproject that installs the package: the project in its root,
    the package in its .venv, pytest run without paths and without testpaths. It collects the
    project's tests and the platform's checks from the .venv, and nothing else of the .venv."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "tests" / "fixtures" / "minimal_project", repo)
    (repo / "notes" / "test_notes.py").write_text("def test_notes():\n    pass\n")
    (repo / "pyproject.toml").write_text(MINIMAL_PYPROJECT)
    uv = uv_executable()
    run_checked = functools.partial(subprocess.run, check=True, capture_output=True)
    run_checked([uv, "build", "--package", "hangar", "--wheel", "--out-dir", tmp_path], cwd=ROOT)
    run_checked([uv, "venv", "--quiet", "--python", sys.executable, repo / ".venv"])
    python = repo / ".venv" / "bin" / "python"
    run_checked([uv, "pip", "install", "--no-deps", "--python", python, *tmp_path.glob("*.whl")])
    (repo / ".venv" / "test_stray.py").write_text("def test_stray():\n    pass\n")
    # The package's dependencies from this environment (the .venv holds the wheel alone).
    # Collection is what this checks: pytest-django (which the testing extra installs) would set
    # the project's settings up, and they read a task's variables, which this run lacks.
    node_ids = collected(
        "-p",
        "no:django",
        python=python,
        cwd=repo,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": sysconfig.get_paths()["purelib"]},
    )
    assert "notes/test_notes.py::test_notes" in node_ids
    assert platform_checks(node_ids) == {"test_health.py", "test_stages.py"}
    installed = ".venv/lib/python3.13/site-packages/hangar/testing/checks/"
    assert all(node.startswith((installed, "notes/")) for node in node_ids), node_ids


def test_the_settings_module_and_the_project_folder_come_from_the_contract() -> None:
    assert str(contract().project_path) in sys.path
    assert os.environ["DJANGO_SETTINGS_MODULE"] == contract().settings_module


def test_an_invalid_contract_is_a_usage_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plugin, "_PROJECT", ContractError("[tool.hangar] project-dir is missing"))
    with pytest.raises(pytest.UsageError, match="project-dir is missing"):
        plugin.pytest_configure(pytest.Config.__new__(pytest.Config))


def test_the_plugin_is_what_pytest_loads() -> None:
    """pyproject.toml's pytest table names no project: the plugin does it."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "-p hangar.testing.plugin" in table["addopts"]
    assert "DJANGO_SETTINGS_MODULE" not in table
    assert contract().project_dir not in table.get("pythonpath", [])


def test_the_projects_tests_get_the_localstack_fixtures(tmp_path: Path) -> None:
    """A test of the project's behaviour on the stack lives with the project and takes the stack
    from the plugin, as Hangar's integration tests do: a test in a folder outside tests/ sees the
    fixtures (only collected here, nothing is started)."""
    outside = tmp_path / "test_on_the_stack.py"
    outside.write_text(
        "def test_uses(localstack_endpoint, deployed_stack, own_localstack,"
        " create_bucket_and_queue):\n    pass\n"
    )
    plan = pytest_output("--setup-plan", "-q", *THIS_CONFIGURATION, str(outside))
    assert "SETUP    S deployed_stack" in plan


def test_coverage_measures_the_project_the_contract_names(monkeypatch: pytest.MonkeyPatch) -> None:
    import coverage

    site = dataclasses.replace(
        contract(), project_dir="site", wsgi_application="site_config.wsgi:application"
    )
    for name, value in plugin.coverage_variables(site).items():
        monkeypatch.setenv(name, value)
    # pyproject's [tool.coverage.run] as pytest-cov reads it, with the plugin's variables.
    configured = coverage.Coverage(config_file=str(ROOT / "pyproject.toml")).config
    project = ROOT / "site"
    assert configured.source == [str(project)]
    assert set(configured.run_omit) == {
        f"{project}/*/migrations/*",
        f"{project}/manage.py",
        f"{project}/site_config/wsgi.py",
        f"{project}/site_config/asgi.py",
    }


def test_a_projects_tests_on_shared_fixtures_share_their_group_under_loadgroup(
    tmp_path: Path,
) -> None:
    """As `make test` runs them (xdist, --dist=loadgroup), with the grouping of the plugin alone
    (no conftest of Hangar's reaches a folder outside tests/): a test of the project's that uses
    the compose stack or LocalStack runs in the local stage's group, one on the stages in theirs,
    and a test on none of them anywhere. The fixtures are stood in for here: nothing starts."""
    (tmp_path / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.fixture(scope='session')\ndef compose():\n    return None\n"
        "@pytest.fixture(scope='session')\ndef localstack_endpoint():\n    return ''\n"
        "@pytest.fixture(scope='session')\ndef project_stages():\n    return {}\n"
    )
    (tmp_path / "test_on_the_stack.py").write_text(
        "def test_on_compose(compose):\n    pass\n"
        "def test_on_localstack(localstack_endpoint):\n    pass\n"
        "def test_on_the_stages(project_stages):\n    pass\n"
        "def test_on_nothing():\n    pass\n"
    )
    run = ("--no-cov", "-rA", "-n", "1", "--dist", "loadgroup", *THIS_CONFIGURATION, str(tmp_path))
    output = pytest_output(*run)
    passed = set(re.findall(r"^PASSED \S*::(test_\S+)", output, re.M))
    assert passed == {
        "test_on_compose@local-stage",
        "test_on_localstack@local-stage",
        "test_on_the_stages@cdk-assemblies",
        "test_on_nothing",
    }, output
