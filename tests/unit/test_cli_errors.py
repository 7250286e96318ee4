"""No command ends in a traceback when AWS cannot be reached, denies a call or has no credentials:
`hangar.cli.main` turns each into one line saying what failed and what to do."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from hangar import cli
from hangar.core.contract import PYPROJECT, load
from hangar.deploy import stage as deploy


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def test_deploy_without_a_stage_says_which_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["deploy"], capsys)

    assert code == 1
    assert "which stage?" in err
    assert "make deploy STAGE=local" in err


def test_an_unreachable_endpoint_is_one_line_saying_to_start_localstack(
    closed_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", f"http://127.0.0.1:{closed_port}")

    code, err = run(["deploy", "--stage", "local"], capsys)

    assert code == 1
    assert err.startswith("error: cannot reach AWS")
    assert "make localstack-up" in err
    assert "Traceback" not in err


def failing(error: Exception) -> Any:
    def command(_: object) -> int:
        raise error

    return command


@pytest.mark.parametrize(
    ("error", "said", "hint"),
    [
        (
            ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform: x:Y"}},
                "DescribeStacks",
            ),
            "AWS denied the call",
            "make bootstrap-aws",
        ),
        (NoCredentialsError(), "no usable AWS credentials", "aws sso login"),
        (
            ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "ListTasks"),
            "AWS call failed",
            "nothing was retried",
        ),
    ],
)
def test_aws_failures_become_one_line_with_what_to_do(
    error: Exception,
    said: str,
    hint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(deploy, "run_deploy", failing(error))

    code, err = run(["deploy", "--stage", "dev"], capsys)

    assert code == 1
    assert err.startswith(f"error: {said}")
    assert hint in err
    assert len(err.strip().splitlines()) == 2  # the line and its hint


def test_a_bad_contract_entry_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        PYPROJECT.read_text().replace("container-port = 8000", "container-port = 80")
    )
    monkeypatch.setattr(deploy, "run_deploy", lambda _: load(pyproject))

    code, err = run(["deploy", "--stage", "dev"], capsys)

    assert code == 1
    assert err.startswith("error: [tool.hangar] container-port = 80 is invalid")
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 2  # the line and its hint


def test_a_reader_that_goes_away_ends_the_command_without_a_traceback() -> None:
    """`hangar doctor | head`: the pipe's reader is gone before the command writes."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "hangar", "localstack", "status"],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={**os.environ, "LOCALSTACK_ENDPOINT": "http://127.0.0.1:9"},
        )
    finally:
        os.close(writer)

    assert finished.returncode == 128 + signal.SIGPIPE
    assert finished.stderr == ""
