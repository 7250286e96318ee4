"""A new adopter from nothing (issue 25, item 4): `django-admin startproject`, `git init`, the
package installed from a wheel of this checkout (`uv add --dev`, from uv's cache: --offline), then
`hangar init`, its snippets pasted as a user would, and `make lint` and `make test` in that
repository.

`make lint` passes there: the thin files against the package's templates, ruff, mypy (on
infra/app.py, through the package's py.typed), makemigrations --check, hadolint, the workflows'
checks (the npm tools of the package.json `hangar init` wrote) and the audit, in a repository
that holds no Hangar checkout. `make test` (and test-unit, test-infra) runs the platform's checks
on the project there, with the pytest configuration `hangar init` wrote: every stage synthesized
for its contract against cdk-nag and cfn-lint, its health path by a private-IP Host and its
readiness path. deploy-local, run-task and dev are not run here yet: they still read files of a
Hangar checkout (LocalStack's host-mode lock, the Docker stand-ins).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hangar.core.paths import PROJECT_UV, ROOT
from hangar.provision.audit import OFFLINE_VARIABLE

pytestmark = pytest.mark.e2e

SITE = "mysite"


def uv() -> str:
    return shutil.which("uv") or str(PROJECT_UV)


def env() -> dict[str, str]:
    tools = str(Path(uv()).parent)
    # The repository's own venv, never this checkout's (pytest runs in it).
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT")}
    return {**clean, "UV_PYTHON": sys.executable, "PATH": f"{tools}{os.pathsep}{clean['PATH']}"}


def run(
    *command: str | Path, cwd: Path, check: bool = True, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**env(), **(extra or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return result


def wheel(out: Path) -> Path:
    run(uv(), "build", "--package", "hangar", "--wheel", "--quiet", "--out-dir", out, cwd=ROOT)
    return next(out.glob("hangar-*.whl"))


def paste_snippets(repo: Path, printed: str) -> None:
    """What a user does with init's output: each `# new file <path>:` block into its file."""
    blocks = re.split(r"^# ", printed, flags=re.M)
    for block in blocks:
        header, _, body = block.partition("\n")
        if match := re.fullmatch(r"new file (\S+):", header):
            path = repo / match.group(1)
            path.write_text(body.strip() + "\n")
            print(f"pasted init's snippet into {match.group(1)}")


def paste_wiring(repo: Path, printed: str) -> None:
    """The rest a user pastes for the platform's health and readiness checks: init's MIDDLEWARE
    line first in the settings' MIDDLEWARE, its import and path into the URLconf."""
    middleware = re.search(r"^# first in the settings' MIDDLEWARE:\n(.+)$", printed, re.M)
    urls = re.search(
        r"^# in ROOT_URLCONF's module:\n(.+)\n# and in its urlpatterns:\n(.+)$", printed, re.M
    )
    assert middleware, printed
    assert urls, printed
    settings = repo / SITE / "settings.py"
    settings.write_text(
        settings.read_text().replace("MIDDLEWARE = [\n", f"MIDDLEWARE = [\n    {middleware[1]}\n")
    )
    urlconf = repo / SITE / "urls.py"
    text = urlconf.read_text().replace("urlpatterns = [\n", f"urlpatterns = [\n    {urls[2]}\n")
    urlconf.write_text(f"{urls[1]}\n{text}")


@pytest.fixture(scope="module")
def adopter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("startproject")
    repo = base / SITE
    repo.mkdir()
    django_admin = Path(sys.executable).parent / "django-admin"
    run(django_admin, "startproject", SITE, ".", cwd=repo)
    run("git", "init", "--quiet", cwd=repo)
    run(uv(), "init", "--bare", "--quiet", "--python", "3.13", cwd=repo)
    # Bounded as the package's own: an open range makes uv resolve for Pythons its cache lacks.
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('">=3.13"', '">=3.13,<3.14"'), encoding="utf-8"
    )
    built = wheel(base / "dist")
    began = time.monotonic()
    run(uv(), "add", "--offline", "--quiet", "django", cwd=repo)
    run(
        uv(),
        "add",
        "--offline",
        "--quiet",
        "--dev",
        f"hangar[cdk,testing] @ {built.as_uri()}",
        cwd=repo,
    )
    print(f"install from the wheel: {time.monotonic() - began:.1f}s")
    identity = ("-c", "user.name=adopter", "-c", "user.email=adopter@example.com")
    run("git", *identity, "add", "--all", cwd=repo)
    run("git", *identity, "commit", "--quiet", "-m", "startproject", cwd=repo)
    init = run(uv(), "run", "--frozen", "hangar", "init", cwd=repo)
    assert (repo / "Makefile").is_file()
    assert "new file mysite/health.py:" in init.stdout
    paste_snippets(repo, init.stdout)
    assert (repo / SITE / "health.py").is_file()
    paste_wiring(repo, init.stdout)
    return repo


def test_make_lint_passes(adopter: Path) -> None:
    began = time.monotonic()
    # This machine reaches PyPI's and npm's downloads but neither advisory service (as .ci/run's
    # machines): the audit says so in its NOT RUN line instead of failing.
    lint = run("make", "lint", cwd=adopter, check=False, extra={OFFLINE_VARIABLE: "warn"})
    print(f"make lint: {time.monotonic() - began:.1f}s")
    output = lint.stdout + lint.stderr
    assert lint.returncode == 0, output
    for passed in (
        "the thin files are hangar",
        "<== ruff: Hangar's code, Hangar's rules: done",
        "<== ruff: ./ has no ruff configuration: syntax errors and undefined names: done",
        "<== mypy: Hangar's code: done",
        "No changes detected",
        "<== check-jsonschema: workflows and dependabot.yml against GitHub's schemas: done",
        "<== zizmor (offline): template injection, permissions, pinning, credentials: done",
        "<== actionlint: expressions, job graph, action inputs: done",
        "no [tool.importlinter]: no layers to check here",
    ):
        assert passed in output, f"{passed!r} not in:\n{output}"
    assert "Traceback" not in output


def test_make_lint_fails_on_code_that_cannot_run_and_names_it(adopter: Path) -> None:
    """The same `make lint` is no rubber stamp: an undefined name in the project fails it."""
    views = adopter / SITE / "broken.py"
    views.write_text("def view(request):\n    return undefined_name\n")
    try:
        lint = run("make", "lint", cwd=adopter, check=False, extra={OFFLINE_VARIABLE: "warn"})
    finally:
        views.unlink()
    output = lint.stdout + lint.stderr
    assert lint.returncode != 0
    assert "F821" in output, output
    assert "mysite/broken.py" in output, output


# What the platform's checks (hangar.testing.checks) run on the project: each stage's cdk-nag and
# cfn-lint checks, the health and readiness paths. The stages as hangar_infra.synthesis VARIANTS.
STAGE_CHECKS = ("test_stage_synthesizes_with_no_cdk_nag_finding", "test_cfn_lint_finds_no_error")
HEALTH_CHECKS = (
    "test_health_path_answers_the_private_ip_host",
    "test_readiness_path_answers_with_the_database_up",
)


def passed_checks(output: str) -> dict[str, set[str]]:
    """Check → the stages (or "" for one without) that -rA's summary lists as PASSED."""
    passed: dict[str, set[str]] = {}
    # Under --dist=loadgroup the id ends in the xdist group: "…[local]@cdk-assemblies]".
    for check, stage in re.findall(r"^PASSED \S*::(test_\w+)(?:\[([^\]@]+)\])?", output, re.M):
        passed.setdefault(check, set()).add(stage)
    return passed


def make_test_target(adopter: Path, target: str) -> str:
    began = time.monotonic()
    # -rA: every passed test in the summary, by its id.
    tested = run("make", target, cwd=adopter, check=False, extra={"PYTEST_ADDOPTS": "-rA"})
    print(f"make {target}: {time.monotonic() - began:.1f}s")
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output
    assert "Traceback" not in output
    assert not re.search(r"\d+ (skipped|xfailed|deselected|error)", output), output
    return output


def test_make_test_runs_the_platform_checks_on_the_project(adopter: Path) -> None:
    """The repository has no test of its own yet: `make test` runs the platform's checks on its
    project, every one of them, and passes."""
    from hangar_infra.synthesis import VARIANTS

    output = make_test_target(adopter, "test")
    stages = set(VARIANTS)
    assert passed_checks(output) == {
        **dict.fromkeys(STAGE_CHECKS, stages),
        **{check: {""} for check in HEALTH_CHECKS},
    }, output
    assert f"{2 * len(stages) + 2} passed" in output, output


def test_make_test_unit_and_test_infra_split_the_checks(adopter: Path) -> None:
    unit = passed_checks(make_test_target(adopter, "test-unit"))
    assert set(unit) == set(HEALTH_CHECKS)
    assert set(passed_checks(make_test_target(adopter, "test-infra"))) == set(STAGE_CHECKS)


def test_make_test_fails_when_the_health_path_meets_host_validation(adopter: Path) -> None:
    """The checks are no rubber stamp here either: without init's middleware line the private-IP
    Host gets Django's 400, and `make test-unit` fails naming the path and the fix."""
    settings = adopter / SITE / "settings.py"
    wired = settings.read_text()
    settings.write_text(wired.replace(f'    "{SITE}.health.HealthMiddleware",\n', ""))
    try:
        tested = run("make", "test-unit", cwd=adopter, check=False)
    finally:
        settings.write_text(wired)
    output = tested.stdout + tested.stderr
    assert tested.returncode != 0
    assert "GET /healthz with Host 10.0.1.23 (the load balancer's health check): 400" in output
