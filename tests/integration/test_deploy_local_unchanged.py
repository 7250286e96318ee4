"""`deploy-local` with nothing changed skips synth and deploy, and anything changed deploys again.

Runs against the session's real LocalStack after `deployed_stack` deployed the local stage; a spy
on the CDK CLI call tells whether a deploy ran. tests/unit/test_infra_cli.py shows that editing a
construct changes the inputs hash this relies on.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest

from hangar.deploy import stacks as infra

pytestmark = pytest.mark.integration


@pytest.fixture
def cdk_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Each CDK CLI command deploy_local runs (they still run)."""
    calls: list[list[str]] = []
    real: Callable[..., Any] = infra._run_cdk

    def spy(arguments: list[str], **kwargs: Any) -> Any:
        calls.append(arguments)
        return real(arguments, **kwargs)

    monkeypatch.setattr(infra, "_run_cdk", spy)
    return calls


def test_nothing_changed_skips_synth_and_deploy(deployed_stack, cdk_calls, capsys):
    env = infra.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    assert cdk_calls == []
    assert "skipping synth+deploy" in capsys.readouterr().out
    assert env == deployed_stack, "the skipped deploy must hand the app the same settings"
    assert infra.LOCAL_ENV_FILE.read_text() == infra.render_env_file(deployed_stack)


def test_changed_inputs_deploy_again(deployed_stack, cdk_calls, monkeypatch):
    monkeypatch.setattr(infra, "local_inputs_hash", lambda endpoint: "a construct changed")
    env = infra.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    assert [call[0] for call in cdk_calls] == ["deploy"]
    assert env == deployed_stack
    record = json.loads(infra.DEPLOY_RECORD.read_text())[deployed_stack["AWS_ENDPOINT_URL"]]
    assert record["inputs"] == "a construct changed"


def test_stacks_that_are_not_the_recorded_ones_deploy_again(deployed_stack, cdk_calls):
    # As after a LocalStack restart in which someone else deployed: same names, other stacks.
    records = json.loads(infra.DEPLOY_RECORD.read_text())
    record = records[deployed_stack["AWS_ENDPOINT_URL"]]
    record["stacks"] = {name: f"{version}-gone" for name, version in record["stacks"].items()}
    infra.DEPLOY_RECORD.write_text(json.dumps(records))
    infra.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    assert [call[0] for call in cdk_calls] == ["deploy"]
    infra.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    assert [call[0] for call in cdk_calls] == ["deploy"], "the redeploy recorded the stacks anew"
