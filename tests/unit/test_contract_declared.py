"""`[tool.hangar.secrets]` and `[tool.hangar.schedules.<name>]`: what a project declares loads into
the contract, and every bad form is refused with one line naming the key and what to write."""

import re
from pathlib import Path

import pytest
from declared_project import DECLARING_EVERYTHING

from hangar.core.contract import ContractError, Schedule, load

SECRETS = """
[tool.hangar.secrets]
STRIPE_API_KEY = "the Stripe secret key"
MAIL_PASSWORD = "the SMTP password"
"""
SCHEDULES = """
[tool.hangar.schedules.nightly-report]
cron = "cron(0 3 * * ? *)"
command = ["python", "manage.py", "report"]

[tool.hangar.schedules.purge]
cron = "rate(15 minutes)"
command = ["python", "manage.py", "clearsessions"]
"""


def with_tables(tmp_path: Path, tables: str) -> Path:
    """The declaring project's contract (tests/declared_project.py) with `tables` appended."""
    path = tmp_path / "pyproject.toml"
    path.write_text(DECLARING_EVERYTHING.read_text() + tables)
    return path


def test_declared_secrets_and_schedules_load(tmp_path: Path) -> None:
    loaded = load(with_tables(tmp_path, SECRETS + SCHEDULES))
    assert loaded.secrets == {
        "STRIPE_API_KEY": "the Stripe secret key",
        "MAIL_PASSWORD": "the SMTP password",
    }
    assert loaded.schedules == (
        Schedule("nightly-report", "cron(0 3 * * ? *)", ("python", "manage.py", "report")),
        Schedule("purge", "rate(15 minutes)", ("python", "manage.py", "clearsessions")),
    )
    assert loaded.secret_name("dev", "STRIPE_API_KEY") == "/hangar/dev/secrets/STRIPE_API_KEY"


def test_a_project_declaring_neither_has_none(tmp_path: Path) -> None:
    loaded = load(with_tables(tmp_path, ""))
    assert loaded.secrets == {}
    assert loaded.schedules == ()


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 3 * * ? *)",
        "cron(0/15 8-18 ? * MON-FRI *)",
        "cron(0 12 L * ? 2030)",
        "cron(30 9 ? * 2#1 *)",
        "rate(1 hour)",
        "rate(5 minutes)",
        "rate(10 days)",
    ],
)
def test_scheduler_expressions_are_accepted(tmp_path: Path, expression: str) -> None:
    table = f'[tool.hangar.schedules.job]\ncron = "{expression}"\ncommand = ["true"]\n'
    assert load(with_tables(tmp_path, table)).schedules[0].cron == expression


def load_error(tmp_path: Path, tables: str) -> str:
    with pytest.raises(ContractError) as refused:
        load(with_tables(tmp_path, tables))
    return str(refused.value)


def assert_refused_naming(error: str, named: str, advice: str) -> None:
    """One line that names the entry and says what to write."""
    assert named in error
    assert advice in error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("tables", "named", "advice"),
    [
        (
            '[tool.hangar.secrets]\nstripe_api_key = "the key"\n',
            "'stripe_api_key'",
            "UPPER_CASE",
        ),
        ('[tool.hangar.secrets]\n"STRIPE-KEY" = "the key"\n', "'STRIPE-KEY'", "UPPER_CASE"),
        ('[tool.hangar.secrets]\n"1KEY" = "the key"\n', "'1KEY'", "starting with a letter"),
        ('[tool.hangar.secrets]\nSTRIPE_API_KEY = ""\n', "STRIPE_API_KEY", "description"),
        ("[tool.hangar.secrets]\nSTRIPE_API_KEY = 1\n", "STRIPE_API_KEY", "description"),
    ],
)
def test_a_bad_secret_is_refused_naming_it(
    tmp_path: Path, tables: str, named: str, advice: str
) -> None:
    assert_refused_naming(load_error(tmp_path, tables), named, advice)


def test_secrets_must_be_a_table(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        DECLARING_EVERYTHING.read_text().replace(
            "[tool.hangar]\n", '[tool.hangar]\nsecrets = "KEY"\n', 1
        )
    )
    with pytest.raises(ContractError, match=re.escape("[tool.hangar.secrets] must be a table")):
        load(path)


def _schedule(name: str = "job", cron: str = '"cron(0 3 * * ? *)"', extra: str = "") -> str:
    return f'[tool.hangar.schedules.{name}]\ncron = {cron}\ncommand = ["true"]\n{extra}'


@pytest.mark.parametrize(
    ("tables", "named", "advice"),
    [
        (_schedule(name="Nightly"), "schedules.Nightly", "lowercase"),
        (_schedule(name="nightly_report"), "schedules.nightly_report", "single hyphens"),
        (_schedule(name="a" * 33), "schedules." + "a" * 33, "1-32"),
        (_schedule(cron='"0 3 * * *"'), "cron = '0 3 * * *'", "cron(minutes hours"),
        (_schedule(cron='"cron(0 3 * * *)"'), "cron = 'cron(0 3 * * *)'", "cron(0 3 * * ? *)"),
        (_schedule(cron='"cron(0 3 * * 1 *)"'), "cron(0 3 * * 1 *)", "? in one of the two"),
        (_schedule(cron='"cron(0 3 ? * ? *)"'), "cron(0 3 ? * ? *)", "? in one of the two"),
        (_schedule(cron='"cron(0 3 * * ? *"'), "cron(0 3 * * ? *", "cron(minutes hours"),
        (_schedule(cron='"rate(1 hours)"'), "rate(1 hours)", "rate(1 hour)"),
        (_schedule(cron='"rate(0 minutes)"'), "rate(0 minutes)", "rate(15 minutes)"),
        (_schedule(cron='"rate(5 weeks)"'), "rate(5 weeks)", "rate(15 minutes)"),
        (_schedule(cron="5"), "cron = 5", "cron(0 3 * * ? *)"),
        (
            '[tool.hangar.schedules.job]\ncron = "rate(1 day)"\ncommand = "python manage.py x"\n',
            "[tool.hangar.schedules.job] command",
            "list of strings",
        ),
        (
            '[tool.hangar.schedules.job]\ncron = "rate(1 day)"\ncommand = []\n',
            "[tool.hangar.schedules.job] command",
            "list of strings",
        ),
        (
            '[tool.hangar.schedules.job]\ncron = "rate(1 day)"\n',
            "[tool.hangar.schedules.job] command",
            "list of strings",
        ),
        ('[tool.hangar.schedules.job]\ncommand = ["true"]\n', "cron = None", "cron("),
        (_schedule(extra='timezone = "Europe/Berlin"\n'), "timezone", "takes cron and command"),
        ('[tool.hangar.schedules]\njob = "rate(1 day)"\n', "schedules.job", "cron and command"),
    ],
)
def test_a_bad_schedule_is_refused_naming_it(
    tmp_path: Path, tables: str, named: str, advice: str
) -> None:
    assert_refused_naming(load_error(tmp_path, tables), named, advice)
