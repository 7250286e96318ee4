"""A repository made by `django-admin startproject` that installs Hangar from a wheel and ran
`hangar init` (tests/e2e/startproject.py): `make lint` and `make test` (test-unit, test-infra)
there, which holds no Hangar checkout.

- `make lint`: the thin files against the package's templates, ruff, mypy (on infra/app.py,
  through the package's py.typed), makemigrations --check, hadolint, the workflows' checks (the
  npm tools of the package.json `hangar init` wrote) and the audit;
- `make test` (and test-unit, test-infra): the platform's checks on the project, with the pytest
  configuration `hangar init` wrote: every stage synthesized for its contract against cdk-nag and
  cfn-lint, its health path by a private-IP Host and its readiness path.

test_startproject_stack.py runs its stack (deploy-local, run-task, dev) beside this module.
Each step prints its seconds (`pytest -s` shows them).
"""

import re
import time
from pathlib import Path

import pytest
from startproject import SITE, make_adopter, run

from hangar.provision.audit import OFFLINE_VARIABLE

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def adopter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_adopter(tmp_path_factory.mktemp("startproject"))


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
