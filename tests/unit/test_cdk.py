"""hangar.cdk.driver, the one way the CLI runs the CDK CLI: context arguments, environment,
failures."""

import sys
from pathlib import Path

import pytest

from hangar.cdk import driver as cdk
from hangar.core.errors import HangarError


def test_context_names_the_stage_and_only_the_values_given() -> None:
    assert cdk.context("prod", imageTag="abc", certificateArn=None, alarmSubscription="") == [
        "-c",
        "stage=prod",
        "-c",
        "imageTag=abc",
    ]


def test_a_cli_that_fails_is_one_error_with_the_exit_code_and_hint(tmp_path: Path) -> None:
    with pytest.raises(HangarError, match=r"synth failed \(cdk exited 3\)") as error:
        cdk.run(
            [sys.executable, "-c", "raise SystemExit(3)"],
            region="us-east-1",
            endpoint=None,
            failure="synth failed",
            hint="read the output",
            cwd=tmp_path,
        )
    assert error.value.hint == "read the output"


def test_the_cli_runs_quiet_and_against_localstack_with_its_gateway(tmp_path: Path) -> None:
    check = (
        "import os; e = os.environ; "
        "assert e['CDK_DISABLE_CLI_TELEMETRY'] == 'true', 'telemetry'; "
        "assert e['AWS_ENDPOINT_URL'] == e['AWS_ENDPOINT_URL_S3'] == 'http://127.0.0.1:4613'; "
        "assert e['AWS_REGION'] == 'us-east-1'"
    )
    cdk.run(
        [sys.executable, "-c", check],
        region="us-east-1",
        endpoint="http://127.0.0.1:4613",
        failure="the environment is wrong",
        hint="",
        cwd=tmp_path,
    )


def test_localstack_gets_cdklocal_and_aws_gets_cdk() -> None:
    assert Path(cdk.cli(local=True)).name == "cdklocal"
    assert Path(cdk.cli(local=False)).name == "cdk"


def test_a_missing_cli_says_to_run_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cdk, "NODE_BIN", tmp_path)
    with pytest.raises(HangarError, match="cdklocal is missing") as error:
        cdk.cli(local=True)
    assert error.value.hint is not None
    assert "make setup" in error.value.hint
