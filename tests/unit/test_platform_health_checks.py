"""The platform's health and readiness checks (hangar.testing.checks.unit.test_health), which
every project's `make test` runs, pass on a project that answers and fail on one that does not: run
here on copies of the minimal fixture project, as the plugin runs them on the contract's."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from hangar.core.contract import Contract, contract
from hangar.core.paths import ROOT
from hangar.testing.checks.unit.test_health import (
    test_health_path_answers_the_private_ip_host as health_check,
)
from hangar.testing.checks.unit.test_health import (
    test_readiness_path_answers_with_the_database_up as readiness_check,
)
from hangar.testing.project_http import Answers, ProjectDidNotAnswer, ask

FIXTURE = ROOT / "tests" / "fixtures" / "minimal_project"
HEALTH_FIRST = '    "notes.health.PingMiddleware",\n'


def project_at(folder: Path) -> Contract:
    return dataclasses.replace(
        contract(),
        project_dir=str(folder),
        settings_module="notes.settings",
        wsgi_application="notes.wsgi:application",
        health_path="/ping",
        readiness_path="/ready",
    )


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    copy = tmp_path / "minimal_project"
    shutil.copytree(FIXTURE, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_project_that_answers_passes_both(minimal: Path) -> None:
    project = project_at(minimal)
    answers = ask(project)
    assert answers == Answers(health=200, health_head=200, readiness=200)
    health_check(answers, project)
    readiness_check(answers, project)


def test_a_health_path_behind_host_validation_fails_naming_the_fix(minimal: Path) -> None:
    settings = minimal / "notes" / "settings.py"
    # The health middleware after Django's: host validation answers the private IP first.
    edit(settings, HEALTH_FIRST, "")
    edit(
        settings,
        '"django.middleware.common.CommonMiddleware",\n',
        f'"django.middleware.common.CommonMiddleware",\n{HEALTH_FIRST}',
    )
    project = project_at(minimal)
    answers = ask(project)
    assert answers.health == 400
    with pytest.raises(AssertionError, match=r"GET /ping with Host 10\.0\.1\.23.*: 400, not 200"):
        health_check(answers, project)


def test_a_health_path_redirected_to_https_fails(minimal: Path) -> None:
    settings = minimal / "notes" / "settings.py"
    edit(settings, HEALTH_FIRST, "")
    edit(
        settings,
        "USE_TZ = True",
        'USE_TZ = True\nSECURE_SSL_REDIRECT = True\nALLOWED_HOSTS = ["*"]',
    )
    project = project_at(minimal)
    with pytest.raises(AssertionError, match="301, not 200"):
        health_check(ask(project), project)


def test_a_readiness_path_without_a_route_fails(minimal: Path) -> None:
    edit(minimal / "notes" / "urls.py", 'urlpatterns = [path("ready", ready)]', "urlpatterns = []")
    project = project_at(minimal)
    answers = ask(project)
    with pytest.raises(AssertionError, match="GET /ready with the database up: 404, not 200"):
        readiness_check(answers, project)


def test_settings_that_do_not_import_with_the_build_environment_fail(minimal: Path) -> None:
    edit(minimal / "notes" / "settings.py", "DEBUG = False", 'DEBUG = os.environ["DEBUG_FLAG"]')
    with pytest.raises(
        ProjectDidNotAnswer, match=r"(?s)notes\.settings did not answer.*DEBUG_FLAG"
    ):
        ask(project_at(minimal))
