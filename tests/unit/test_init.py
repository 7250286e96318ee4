"""`hangar init` in an existing Django repository: the project is found where it is, the contract
written checks with the real loader, an existing one is kept unless `--force`, bad input is one
line that changes nothing, and what it prints to paste makes the project answer the platform."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from local_library import FIXTURE, SETTINGS_MODULE, WSGI_APPLICATION

from hangar.adopt.init import COVERAGE_TABLE, ignore_platform_files
from hangar.adopt.snippets import SETTINGS, health_code, settings_to_add
from hangar.adopt.thin_files import RECORD, names, package_version, read_record, render
from hangar.core.contract import load
from hangar.core.paths import ROOT

# What the load balancer's health check sends as Host: the task's private IP.
PRIVATE_IP_HOST = "10.0.1.23"


def hangar_init(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hangar", "init", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def startproject(folder: Path, name: str = "mysite") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", name, str(folder)],
        check=True,
        capture_output=True,
    )


def files_of(repo: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()
    }


def contract_of(repo: Path) -> dict[str, object]:
    return tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["hangar"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose Django project, made by startproject, sits in `web/`."""
    repo = tmp_path / "My_Shop.repo"
    startproject(repo / "web")
    return repo


EXPECTED = {
    "service-name": "my-shop-repo",
    "image-platform": "linux/amd64",
    "project-dir": "web",
    "settings-module": "mysite.settings",
    "wsgi-application": "mysite.wsgi:application",
    "health-path": "/healthz",
    "readiness-path": "/readyz",
    "container-port": 8000,
}


def test_init_writes_the_contract_of_the_project_where_it_is(repo: Path) -> None:
    result = hangar_init(repo)
    assert result.returncode == 0, result.stderr
    assert contract_of(repo) == EXPECTED
    loaded = load(repo / "pyproject.toml")
    assert (loaded.project_dir, loaded.wsgi_application) == ("web", "mysite.wsgi:application")
    assert tomllib.loads((repo / "pyproject.toml").read_text())["project"]["name"] == "my-shop-repo"
    assert set(files_of(repo)) == {
        "pyproject.toml",
        "web/manage.py",
        *(f"web/mysite/{name}.py" for name in ("__init__", "settings", "urls", "asgi", "wsgi")),
        *names(),
        RECORD,
        ".gitignore",
    }
    rendered = {name: render(name, package_version()) for name in names()}
    assert {name: (repo / name).read_text() for name in names()} == rendered
    assert read_record(repo) is not None
    assert read_record(repo).files == rendered
    assert os.access(repo / ".github" / "notify-failure.sh", os.X_OK)
    # Nothing of it is there yet, so each snippet is printed.
    for snippet in (
        "# new file mysite/health.py",
        '"mysite.health.HealthMiddleware",',
        'path("readyz", ready),',
        'os.environ["DJANGO_SECRET_KEY"]',
    ):
        assert snippet in result.stdout


@pytest.mark.parametrize(
    ("environment", "key"),
    [
        ({"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": "from-the-task"}, "from-the-task"),
        ({"DJANGO_SECRET_KEY": "from-make-dev"}, "from-make-dev"),
        ({}, "django-insecure-tests-and-tools-only"),
    ],
)
def test_the_secret_key_snippet_gives_tests_a_key_and_production_none(
    environment: dict[str, str], key: str
) -> None:
    code = SETTINGS[("DJANGO_SECRET_KEY",)]
    namespace: dict[str, object] = {"os": SimpleNamespace(environ=environment)}
    exec(code, namespace)  # noqa: S102 - the snippet init prints, run as settings.py would
    assert namespace["SECRET_KEY"] == key


def test_the_secret_key_snippet_fails_the_runtime_image_without_a_key() -> None:
    namespace: dict[str, object] = {"os": SimpleNamespace(environ={"DJANGO_ENV": "production"})}
    with pytest.raises(KeyError, match="DJANGO_SECRET_KEY"):
        exec(SETTINGS[("DJANGO_SECRET_KEY",)], namespace)  # noqa: S102


def test_an_existing_pyproject_keeps_its_text(repo: Path) -> None:
    before = '[project]\nname = "shop"\nversion = "2.0"\n\n[tool.ruff]\nline-length = 99\n'
    (repo / "pyproject.toml").write_text(before)
    assert hangar_init(repo, "--service-name", "shop").returncode == 0
    after = (repo / "pyproject.toml").read_text()
    assert after.startswith(before)
    assert contract_of(repo) == {**EXPECTED, "service-name": "shop"}


def test_a_second_run_refuses_and_changes_nothing(repo: Path) -> None:
    assert hangar_init(repo).returncode == 0
    before = files_of(repo)
    result = hangar_init(repo, "--service-name", "other")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {repo / 'pyproject.toml'} already has [tool.hangar]; edit it "
        "(docs/adopting.md), or run hangar init --force to replace it"
    ]
    assert files_of(repo) == before


def test_existing_files_refuse_without_force_and_nothing_is_written(repo: Path) -> None:
    (repo / "Makefile").write_text("test:\n\tpytest\n")
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    before = files_of(repo)
    result = hangar_init(repo)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {repo} already has .github/workflows/ci.yml, Makefile; nothing was written: "
        "move them aside and run hangar init again (then merge what you need back in), or run "
        "hangar init --force to replace them"
    ]
    assert files_of(repo) == before  # not even [tool.hangar]

    assert hangar_init(repo, "--force").returncode == 0
    assert (repo / "Makefile").read_text() == render("Makefile", package_version())
    assert "[tool.hangar]" in (repo / "pyproject.toml").read_text()


def test_force_rewrites_the_same_files(repo: Path) -> None:
    assert hangar_init(repo).returncode == 0
    before = files_of(repo)
    assert hangar_init(repo, "--force").returncode == 0
    assert files_of(repo) == before


def test_force_replaces_the_contract_and_its_tables_only(repo: Path) -> None:
    assert hangar_init(repo).returncode == 0
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.hangar.bench]\nupload-path = "/up/"\n\n'
        "# the team's rules\n[tool.ruff]\nline-length = 99\n"
    )
    result = hangar_init(repo, "--force", "--service-name", "other")
    assert result.returncode == 0, result.stderr
    written = tomllib.loads(pyproject.read_text())
    assert written["tool"]["hangar"] == {**EXPECTED, "service-name": "other"}
    assert written["tool"]["ruff"] == {"line-length": 99}
    assert "\n# the team's rules\n[tool.ruff]\nline-length = 99\n" in pyproject.read_text()
    assert written["project"]["name"] == "my-shop-repo"


def several_projects(repo: Path) -> None:
    startproject(repo / "admin_site", "backoffice")


def unparseable_manage_py(repo: Path) -> None:
    (repo / "web" / "manage.py").write_text("def main(:\n")


def settings_elsewhere(repo: Path) -> None:
    manage = repo / "web" / "manage.py"
    manage.write_text(manage.read_text().replace("mysite.settings", "nowhere.settings"))


def no_default_settings(repo: Path) -> None:
    manage = repo / "web" / "manage.py"
    manage.write_text(manage.read_text().replace("os.environ.setdefault", "print"))


def wsgi_elsewhere(repo: Path) -> None:
    settings = repo / "web" / "mysite" / "settings.py"
    settings.write_text(settings.read_text().replace("mysite.wsgi.application", "application"))


def no_manage_py(repo: Path) -> None:
    (repo / "web" / "manage.py").unlink()


def broken_pyproject(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[project\n")


BAD_INPUT: dict[str, tuple[Callable[[Path], None], tuple[str, ...], str]] = {
    "no manage.py": (no_manage_py, (), "no manage.py under "),
    "several manage.py": (
        several_projects,
        (),
        "several manage.py under {repo}: admin_site/manage.py, web/manage.py; pass --project-dir",
    ),
    "--project-dir without manage.py": (
        lambda repo: None,
        ("--project-dir", "web/mysite"),
        "no manage.py in ",
    ),
    "unparseable manage.py": (unparseable_manage_py, (), "cannot parse {repo}/web/manage.py: "),
    "no default settings module": (
        no_default_settings,
        (),
        "{repo}/web/manage.py sets no default settings module; add os.environ.setdefault(",
    ),
    "WSGI_APPLICATION without a module": (
        wsgi_elsewhere,
        (),
        "WSGI_APPLICATION = 'application' in {repo}/web/mysite/settings.py names no module of",
    ),
    "settings module not found": (
        settings_elsewhere,
        (),
        "the settings module nowhere.settings that manage.py names is not in {repo}/web",
    ),
    "service name refused": (
        lambda repo: None,
        ("--service-name", "Shop_1"),
        "[tool.hangar] service-name = 'Shop_1' is invalid; use 1-16 lowercase letters",
    ),
    "unreadable pyproject": (broken_pyproject, (), "cannot read {repo}/pyproject.toml: "),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_and_changes_nothing(repo: Path, case: str) -> None:
    breaking, args, expected = BAD_INPUT[case]
    breaking(repo)
    before = files_of(repo)
    result = hangar_init(repo, *args)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: " + expected.format(repo=repo)), lines[0]
    assert files_of(repo) == before


def test_a_folder_name_that_cannot_be_a_service_name_asks_for_one(tmp_path: Path) -> None:
    repo = tmp_path / "2024"
    startproject(repo)
    result = hangar_init(repo)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: cannot make a service name of the folder name '2024'; pass --service-name NAME "
        "(use 1-16 lowercase letters, digits and single hyphens, starting with a letter)"
    ]
    assert not (repo / "pyproject.toml").exists()
    assert hangar_init(repo, "--service-name", "y2024").returncode == 0
    assert contract_of(repo)["project-dir"] == "."


def test_project_dir_chooses_among_several(repo: Path) -> None:
    several_projects(repo)
    result = hangar_init(repo, "--project-dir", "admin_site")
    assert result.returncode == 0, result.stderr
    written = contract_of(repo)
    assert (written["project-dir"], written["settings-module"]) == (
        "admin_site",
        "backoffice.settings",
    )


def test_environments_and_hidden_folders_are_not_searched(repo: Path) -> None:
    startproject(repo / "node_modules" / "pkg", "vendored")
    startproject(repo / ".cache" / "old", "hidden")
    startproject(repo / "env" / "lib" / "site", "installed")
    (repo / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert hangar_init(repo).returncode == 0
    assert contract_of(repo)["project-dir"] == "web"


def test_the_wsgi_application_beside_the_settings_when_they_do_not_name_it(repo: Path) -> None:
    settings = repo / "web" / "mysite" / "settings.py"
    settings.write_text(settings.read_text().replace("WSGI_APPLICATION = ", "UNUSED = "))
    assert hangar_init(repo).returncode == 0
    assert contract_of(repo)["wsgi-application"] == "mysite.wsgi:application"


def test_local_library_is_found_in_place(tmp_path: Path) -> None:
    """The vendored project written elsewhere, as its repository has it (manage.py at the root)."""
    repo = tmp_path / "django-locallibrary-tutorial"
    shutil.copytree(FIXTURE, repo)
    result = hangar_init(repo)
    assert result.returncode == 0, result.stderr
    written = contract_of(repo)
    assert (written["settings-module"], written["wsgi-application"]) == (
        SETTINGS_MODULE,
        WSGI_APPLICATION,
    )
    assert (written["project-dir"], written["service-name"]) == (".", "django-locallibr")
    # Its move added the health middleware and the readiness view already: not printed again.
    assert "# new file" not in result.stdout
    package = SETTINGS_MODULE.partition(".")[0]
    assert f"health-path /healthz is named in {package}/health.py" in result.stdout
    assert f"readiness-path /readyz is named in {package}/urls.py" in result.stdout
    assert "Nothing to paste" in result.stdout


def test_the_printed_code_makes_the_project_answer_the_platform(repo: Path) -> None:
    """What init prints, pasted into startproject's project: the health path answers whatever
    the Host, readiness reports the database, and other paths still validate the Host."""
    assert hangar_init(repo).returncode == 0
    contract = load(repo / "pyproject.toml")
    package = repo / "web" / "mysite"
    (package / "health.py").write_text(health_code(contract, liveness=True, readiness=True))
    settings = package / "settings.py"
    pasted = settings_to_add(repo / "web", settings)
    assert pasted is not None
    settings.write_text(
        settings.read_text().replace(
            "MIDDLEWARE = [\n", 'MIDDLEWARE = [\n    "mysite.health.HealthMiddleware",\n'
        )
        + "\n"
        + pasted
    )
    urls = package / "urls.py"
    urls.write_text(
        urls.read_text().replace(
            "urlpatterns = [\n",
            'from mysite.health import ready\n\nurlpatterns = [\n    path("readyz", ready),\n',
        )
    )
    probe = (
        "import django, json; django.setup(); from django.test import Client; c = Client(); "
        f"print(json.dumps([c.get('/healthz', HTTP_HOST='{PRIVATE_IP_HOST}').status_code, "
        "c.get('/readyz', HTTP_HOST='localhost').json(), "
        f"c.get('/admin/login/', HTTP_HOST='{PRIVATE_IP_HOST}').status_code]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=repo / "web",
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "mysite.settings",
            "DJANGO_SECRET_KEY": "not-a-secret",
            "DJANGO_ALLOWED_HOSTS": "localhost",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [200, {"database": "ok"}, 400]


def test_init_writes_what_make_test_runs_pytest_and_coverage_with(repo: Path) -> None:
    assert hangar_init(repo).returncode == 0
    tools = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]
    assert "-p hangar.testing.plugin" in tools["pytest"]["ini_options"]["addopts"]
    assert tools["coverage"]["run"]["source"] == ["${HANGAR_PROJECT_DIR?}"]
    assert tools["hangar"] == EXPECTED


def test_init_keeps_a_pytest_configuration_and_prints_the_plugin_to_add(repo: Path) -> None:
    (repo / "pytest.ini").write_text("[pytest]\naddopts = -q\n")
    (repo / "pyproject.toml").write_text('[project]\nname = "shop"\n\n[tool.coverage.run]\n')
    result = hangar_init(repo)
    assert result.returncode == 0, result.stderr
    tools = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]
    assert "pytest" not in tools
    assert tools["coverage"] == {"run": {}}
    assert "# in your pytest configuration's addopts:\n-p hangar.testing.plugin" in result.stdout
    assert 'source = ["${HANGAR_PROJECT_DIR?}"]' in result.stdout


def test_the_coverage_init_writes_measures_what_the_reference_project_measures() -> None:
    written = tomllib.loads(COVERAGE_TABLE)["tool"]["coverage"]["run"]
    reference = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["coverage"]["run"]
    assert (written["source"], written["omit"]) == (reference["source"], reference["omit"])


WRITTEN = (
    ".hangar/wheelhouse/x.whl",
    "cdk.out/t.json",
    ".env",
    "web/.env.local",
    ".venv/pyvenv.cfg",
    ".coverage",
    ".coverage.host.pid7.Xqwertyx",
)


def tracked(repo: Path) -> set[str]:
    """What `git add --all` takes in a fresh repository at `repo`."""
    subprocess.run(["git", "init", "--quiet"], cwd=repo, check=True)
    subprocess.run(["git", "add", "--all"], cwd=repo, check=True)
    listed = subprocess.run(["git", "ls-files"], cwd=repo, check=True, capture_output=True)
    return set(listed.stdout.decode().splitlines())


def test_git_keeps_out_what_the_platform_writes(repo: Path) -> None:
    """The wheelhouse (.hangar), the venv, the CDK CLI, templates and a developer's .env files
    stay out of a `git add --all`; .env.example stays in; the team's .gitignore keeps its lines,
    and a rule of its own that covers an entry (`/node_modules`) is not repeated."""
    (repo / ".gitignore").write_text("/node_modules\n*.log")
    result = hangar_init(repo)
    assert result.returncode == 0, result.stderr
    added = ".hangar/ .venv/ cdk.out/ .coverage .coverage.* .env* !.env.example"
    assert f"added to .gitignore: {added}" in result.stdout
    assert (repo / ".gitignore").read_text().startswith("/node_modules\n*.log\n\n# What Hangar")
    for name in [*WRITTEN, "node_modules/x"]:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).touch()
    taken = tracked(repo)
    assert not taken & {*WRITTEN, "node_modules/x"}
    assert {".env.example", ".gitignore", "web/manage.py"} <= taken
    assert "added to .gitignore" not in hangar_init(repo, "--force").stdout


def test_rules_that_already_cover_an_entry_are_read_as_git_reads_them(tmp_path: Path) -> None:
    """Coverage is git's matcher's answer, not the text: `.env` alone leaves .env.local to be
    committed, and a team's `.env*` would hide the .env.example init writes."""
    covered = ".hangar\n.venv\nnode_modules/\n**/cdk.out/\n.coverage*\n"
    (tmp_path / ".gitignore").write_text(f"{covered}.env\n")
    assert ignore_platform_files(tmp_path) == [".env*", "!.env.example"]
    (tmp_path / ".gitignore").write_text(f"{covered}.env*\n")
    assert ignore_platform_files(tmp_path) == ["!.env.example"]


def test_this_repository_already_keeps_out_what_init_adds(tmp_path: Path) -> None:
    """The moved-in copy (tests/e2e/test_adopted_project.py) runs `hangar init --force` and
    allows no change outside the project: its .gitignore, this one, covers every entry."""
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    assert ignore_platform_files(tmp_path) == []


def test_without_git_init_says_so_and_writes_nothing(repo: Path, tmp_path: Path) -> None:
    before = files_of(repo)
    result = hangar_init(repo, env={**os.environ, "PATH": str(tmp_path / "no-tools")})
    assert result.returncode != 0
    assert "git is not installed" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert files_of(repo) == before
