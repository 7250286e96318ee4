"""A declared secret against the session's real LocalStack: `hangar deploy` and deploy-local refuse,
in one line, to change anything while it has no value; `make secret` (`hangar secret`) stores the
value from stdin in the local stage's Secrets Manager; deploy-local then writes it to
.hangar/local.env.

The project is the checkout's pyproject.toml plus `[tool.hangar.secrets]` (the sample declares
none), loaded in this process; the CDK app deploy-local runs reads the checkout's own contract,
which changes nothing here: the secret is referenced by name, never created by the stack.
"""

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from hangar import cli
from hangar.core import contract as contract_module
from hangar.core.paths import LOCAL_ENV_FILE

pytestmark = pytest.mark.integration

VARIABLE = "STRIPE_API_KEY"
SECRET_NAME = f"/hangar/local/secrets/{VARIABLE}"
REFUSAL = (
    f"error: stage local has no value for the declared secret {VARIABLE}: set it with "
    f"`make secret STAGE=local NAME={VARIABLE}` (the value is read from stdin)\n"
)


@pytest.fixture
def secrets_manager(localstack_endpoint: str) -> Iterator[Any]:
    client = boto3.client("secretsmanager", endpoint_url=localstack_endpoint)

    def forget() -> None:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_secret(SecretId=SECRET_NAME, ForceDeleteWithoutRecovery=True)

    forget()
    yield client
    forget()


@pytest.fixture
def declaring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        contract_module.PYPROJECT.read_text()
        + f'\n[tool.hangar.secrets]\n{VARIABLE} = "the Stripe secret key"\n'
    )
    monkeypatch.setattr(contract_module.load, "__defaults__", (path,))
    contract_module.contract.cache_clear()
    yield
    contract_module.contract.cache_clear()


def stacks(localstack_endpoint: str) -> list[tuple[str, str]]:
    cloudformation = boto3.client("cloudformation", endpoint_url=localstack_endpoint)
    return sorted(
        (stack["StackName"], stack["StackStatus"])
        for page in cloudformation.get_paginator("list_stacks").paginate()
        for stack in page["StackSummaries"]
    )


def local_env_state() -> bytes | None:
    return LOCAL_ENV_FILE.read_bytes() if LOCAL_ENV_FILE.exists() else None


@pytest.mark.usefixtures("declaring", "secrets_manager")
@pytest.mark.parametrize("command", [["deploy", "--stage", "local"], ["deploy-local"]])
def test_a_deploy_without_the_secrets_value_changes_nothing_and_says_so(
    command: list[str], localstack_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stacks(localstack_endpoint), local_env_state()

    assert cli.main(command) == 1

    assert capsys.readouterr().err == REFUSAL
    assert (stacks(localstack_endpoint), local_env_state()) == before


@pytest.mark.usefixtures("declaring")
def test_make_secret_stores_the_value_from_stdin_and_deploy_local_writes_it(
    secrets_manager: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for value in ("sk_test_first", "sk_test_second"):  # creates the secret, then updates it
        monkeypatch.setattr("sys.stdin", io.StringIO(f"{value}\n"))
        assert cli.main(["secret", "--stage", "local", "--name", VARIABLE]) == 0, (
            capsys.readouterr().err
        )
        stored = secrets_manager.get_secret_value(SecretId=SECRET_NAME)["SecretString"]
        assert stored == value
    assert f"Stored {VARIABLE} in {SECRET_NAME}" in capsys.readouterr().out

    assert cli.main(["deploy-local"]) == 0, capsys.readouterr().err

    lines = LOCAL_ENV_FILE.read_text().splitlines()
    assert f"{VARIABLE}=sk_test_second" in lines
