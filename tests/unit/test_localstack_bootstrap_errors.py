"""A LocalStack bootstrap that fails is one line naming the stack and what to do (LocalStack's
answers are stubbed here: a bootstrap that fails on purpose cannot be had from it; the happy path
runs for real in tests/integration/test_localstack_bootstrap.py), and the bootstrap template is
printed by the CDK CLI once per CLI version."""

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from hangar.cdk import bootstrap_template, driver
from hangar.core.aws_clients import aws_client
from hangar.core.errors import HangarError

ENDPOINT = "http://127.0.0.1:4566"


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = aws_client("cloudformation", region="us-east-1", endpoint=ENDPOINT)
    monkeypatch.setattr(driver, "aws_client", lambda *args, **kwargs: client)
    monkeypatch.setattr(driver, "stock_template", lambda: {"Resources": {}})
    monkeypatch.setattr(driver, "scoped_template", lambda stock, stage: stock)
    return client


def stack(status: str, reason: str = "") -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "CDKToolkit",
                "CreationTime": "2026-11-28T00:00:00Z",
                "StackStatus": status,
                "StackStatusReason": reason,
            }
        ]
    }


def test_a_rolled_back_bootstrap_names_the_stack_and_its_reason(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_response("create_stack", {"StackId": "id"})
        stub.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"))
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE", "StagingBucket failed"))
        with pytest.raises(HangarError) as raised:
            driver.bootstrap_localstack("local", region="us-east-1", endpoint=ENDPOINT)

    assert "CDKToolkit ended ROLLBACK_COMPLETE: StagingBucket failed" in raised.value.message
    assert "make logs SERVICE=localstack" in (raised.value.hint or "")


def test_a_refused_create_is_one_error_not_a_traceback(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stub:
        stub.add_client_error("create_stack", "AlreadyExistsException", "Stack exists")
        with pytest.raises(HangarError, match="creating the CDK bootstrap stack CDKToolkit"):
            driver.bootstrap_localstack("local", region="us-east-1", endpoint=ENDPOINT)


def test_the_bootstrap_parameters_are_the_clis_for_a_new_bootstrap(cloudformation: Any) -> None:
    expected = {
        "StackName": "CDKToolkit",
        "TemplateBody": json.dumps({"Resources": {}}, separators=(",", ":")),
        "Parameters": [
            {"ParameterKey": "FileAssetsBucketKmsKeyId", "ParameterValue": "AWS_MANAGED_KEY"},
            {"ParameterKey": "TrustedAccounts", "ParameterValue": ""},
            {"ParameterKey": "TrustedAccountsForLookup", "ParameterValue": ""},
            {"ParameterKey": "CloudFormationExecutionPolicies", "ParameterValue": ""},
            {"ParameterKey": "PublicAccessBlockConfiguration", "ParameterValue": "true"},
            {"ParameterKey": "Qualifier", "ParameterValue": "hnb659fds"},
        ],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    }
    with Stubber(cloudformation) as stub:
        stub.add_response("create_stack", {"StackId": "id"}, expected)
        stub.add_response("describe_stacks", stack("CREATE_COMPLETE"))
        driver.bootstrap_localstack("local", region="us-east-1", endpoint=ENDPOINT)
        stub.assert_no_pending_responses()


def test_the_stock_template_is_printed_once_per_cli_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bootstrap_template, "STATE_DIR", tmp_path)
    first = bootstrap_template.stock_template()
    (cached,) = tmp_path.glob("cdk-bootstrap-template-*.json")
    cached.write_text(json.dumps({"Description": "from the cache"}))

    assert "DeploymentActionRole" in first["Resources"]
    assert bootstrap_template.stock_template() == {"Description": "from the cache"}
    version = json.loads(
        (bootstrap_template.ROOT / "node_modules/aws-cdk/package.json").read_text()
    )["version"]
    assert cached.name == f"cdk-bootstrap-template-{version}.json"
