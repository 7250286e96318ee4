"""deploy-local creates the CDK bootstrap in LocalStack through CloudFormation itself (the CLI's two
5-second polls were most of a warm `make dev`); `cdklocal bootstrap` must then find nothing to
change, or the local stage would deploy through a bootstrap the CLI would not have made."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hangar.cdk import driver
from hangar.core.aws_clients import aws_client
from hangar.core.stages import LOCALSTACK_ACCOUNT

pytestmark = pytest.mark.integration

REGION = "us-east-1"
STAGE = "local"


@pytest.fixture
def qualifier(localstack_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A qualifier of this test's own: the session's local stage bootstrap stays untouched."""
    qualifier = uuid.uuid4().hex[:10]
    monkeypatch.setattr(driver, "stage_qualifier", lambda stage: qualifier)
    yield qualifier
    cloudformation = aws_client("cloudformation", region=REGION, endpoint=localstack_endpoint)
    cloudformation.delete_stack(StackName=f"CDKToolkit-{qualifier}")


def cdklocal_bootstrap(endpoint: str, capfd: pytest.CaptureFixture[str]) -> str:
    """`cdklocal bootstrap` with the same template and qualifier, as `hangar.cdk.driver` runs it."""
    capfd.readouterr()
    driver.bootstrap(LOCALSTACK_ACCOUNT, REGION, endpoint, STAGE)
    captured = capfd.readouterr()
    return captured.out + captured.err


def test_cdklocal_bootstrap_finds_nothing_to_change(
    localstack_endpoint: str, qualifier: str, capfd: pytest.CaptureFixture[str]
) -> None:
    driver.bootstrap_localstack(STAGE, region=REGION, endpoint=localstack_endpoint)

    assert driver.is_bootstrapped(STAGE, region=REGION, endpoint=localstack_endpoint)
    output = cdklocal_bootstrap(localstack_endpoint, capfd)
    assert "bootstrapped (no changes)" in output, output[-3000:]


def test_the_check_sees_a_parameter_the_cli_would_set_differently(
    localstack_endpoint: str,
    qualifier: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Proof that the check above can fail: one parameter off, and the CLI updates the stack."""
    parameters: dict[str, Any] = {**driver.NEW_BOOTSTRAP_PARAMETERS}
    parameters["PublicAccessBlockConfiguration"] = "false"
    monkeypatch.setattr(driver, "NEW_BOOTSTRAP_PARAMETERS", parameters)
    driver.bootstrap_localstack(STAGE, region=REGION, endpoint=localstack_endpoint)

    output = cdklocal_bootstrap(localstack_endpoint, capfd)
    assert "bootstrapped." in output, output[-3000:]
    assert "(no changes)" not in output, output[-3000:]
