"""Declared secrets outside the stack: the deploy's check that each has a value names what is
missing in one line, and the deploy role may make that check for its own stage only.

Secrets Manager of a real AWS account cannot run here, so the check's calls go to a botocore
Stubber (a fake) and are evaluated with @cloud-copilot/iam-simulate against the deploy role's
policy, as tests/unit/test_deploy_permissions.py does for the rest of the deploy. The same calls
against LocalStack: tests/integration/test_declared_secrets_on_localstack.py.
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from declared_project import DECLARING_EVERYTHING

from hangar.aws import github_oidc
from hangar.aws.permissions import ApiCall, evaluate, unique_requests
from hangar.core import contract as contract_module
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.deploy import declared_secrets

ACCOUNT, REGION = "123456789012", "us-east-1"
OTHER_STAGE = {"dev": "prod", "staging": "dev", "prod": "staging"}
DECLARED = """
[tool.hangar.secrets]
STRIPE_API_KEY = "the Stripe secret key"
MAIL_PASSWORD = "the SMTP password"
"""


@pytest.fixture
def declaring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The declaring project's contract (tests/declared_project.py), plus two declared secrets."""
    path = tmp_path / "pyproject.toml"
    path.write_text(DECLARING_EVERYTHING.read_text() + DECLARED)
    monkeypatch.setattr(contract_module.load, "__defaults__", (path,))
    contract_module.contract.cache_clear()
    yield
    contract_module.contract.cache_clear()


def described(name: str, *, current: bool = True) -> dict[str, Any]:
    stages = {"0" * 32: ["AWSCURRENT"]} if current else {}
    return {"Name": name, "VersionIdsToStages": stages}


def checked(stage: str, answers: list[dict[str, Any] | None]) -> tuple[list[str], list[ApiCall]]:
    """`missing()` against a stub answering each DescribeSecret in turn (None: not found)."""
    client = boto3.client(
        "secretsmanager", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )
    calls: list[ApiCall] = []
    client.meta.events.register(
        "before-parameter-build.*.*",
        lambda params, model, **_: calls.append(ApiCall("secretsmanager", model.name, params)),
    )
    with Stubber(client) as stub:
        for answer in answers:
            if answer is None:
                stub.add_client_error("describe_secret", "ResourceNotFoundException")
            else:
                stub.add_response("describe_secret", answer)
        absent = declared_secrets.missing(client, stage)
        stub.assert_no_pending_responses()
    return absent, calls


@pytest.mark.usefixtures("declaring")
def test_a_secret_without_a_current_value_is_missing() -> None:
    absent, _ = checked(
        "dev",
        [described("/hangar/dev/secrets/STRIPE_API_KEY"), described("x", current=False)],
    )
    assert absent == ["MAIL_PASSWORD"]


@pytest.mark.usefixtures("declaring")
def test_the_deploy_stops_with_one_line_naming_the_secret_and_the_command() -> None:
    client = boto3.client(
        "secretsmanager", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )
    with Stubber(client) as stub:
        stub.add_response("describe_secret", described("/hangar/staging/secrets/STRIPE_API_KEY"))
        stub.add_client_error("describe_secret", "ResourceNotFoundException")
        with pytest.raises(HangarError) as refused:
            declared_secrets.require_values(client, "staging")
    assert str(refused.value) == (
        "stage staging has no value for the declared secret MAIL_PASSWORD: set it with "
        "`make secret STAGE=staging NAME=MAIL_PASSWORD` (the value is read from stdin)"
    )


@pytest.mark.usefixtures("declaring")
@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_the_deploy_role_may_check_its_stages_secrets_and_not_anothers(stage: str) -> None:
    _, calls = checked(stage, [described("a"), described("b")])
    assert {call.params["SecretId"] for call in calls} == {
        f"/hangar/{stage}/secrets/STRIPE_API_KEY",
        f"/hangar/{stage}/secrets/MAIL_PASSWORD",
    }
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/hangar-github-deploy-{stage}/GitHubActions"
    requests = list(unique_requests(calls, account=ACCOUNT, region=REGION))
    for policy_stage, allowed in ((stage, True), (OTHER_STAGE[stage], False)):
        policy = github_oidc.deploy_permissions(ACCOUNT, REGION, policy_stage)
        decisions = evaluate({"hangar": policy}, requests, principal=principal, account=ACCOUNT)
        assert [d.allowed for d in decisions] == [allowed] * len(requests), decisions


def test_make_secret_refuses_an_undeclared_name_before_asking_for_a_value() -> None:
    result = subprocess.run(
        # The setup stamp counts as current: a pyproject.toml edited since would have make run
        # `make setup`, whose `npm ci` empties node_modules under the tests beside this one.
        [
            "make",
            "--no-print-directory",
            "--old-file=.hangar/setup.stamp",
            "secret",
            "STAGE=dev",
            "NAME=NOT_DECLARED",
        ],
        cwd=ROOT,
        input="must-not-be-read\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "'NOT_DECLARED' is not a declared secret" in result.stderr
    assert "[tool.hangar.secrets] NOT_DECLARED" in result.stderr
    assert "Traceback" not in result.stderr
