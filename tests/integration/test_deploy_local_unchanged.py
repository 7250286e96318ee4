"""`deploy-local` with nothing changed skips synth and deploy, and anything changed deploys again;
a deploy into a LocalStack that lost the stacks reuses the assembly when the inputs are unchanged.

Runs against the session's real LocalStack after `deployed_stack` deployed the local stage; a spy
on the CDK CLI call tells whether a deploy ran, and whether it synthesized. tests/unit/
test_infra_cli.py shows that editing a construct changes the inputs hash this relies on.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from hangar.deploy import local_stage
from hangar.deploy import stacks as infra

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class CdkCall:
    command: str
    app: str | None  # None: the CDK app, synthesized by this call; else the assembly it deploys


@pytest.fixture
def cdk_calls(monkeypatch: pytest.MonkeyPatch) -> list[CdkCall]:
    """Each CDK CLI command deploy_local runs (they still run)."""
    calls: list[CdkCall] = []
    real: Callable[..., Any] = infra.run_cdk

    def spy(arguments: list[str], **kwargs: Any) -> Any:
        calls.append(CdkCall(arguments[0], kwargs.get("app")))
        return real(arguments, **kwargs)

    monkeypatch.setattr(local_stage, "run_cdk", spy)
    return calls


def test_nothing_changed_skips_synth_and_deploy(deployed_stack, cdk_calls, capsys):
    env = local_stage.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    assert cdk_calls == []
    assert "skipping synth+deploy" in capsys.readouterr().out
    assert env == deployed_stack, "the skipped deploy must hand the app the same settings"
    assert local_stage.LOCAL_ENV_FILE.read_text() == local_stage.render_env_file(deployed_stack)


def test_changed_inputs_synthesize_and_deploy_again(deployed_stack, cdk_calls, monkeypatch):
    monkeypatch.setattr(local_stage, "source_inputs_hash", lambda: "a construct changed")
    env = local_stage.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    assert cdk_calls == [CdkCall("deploy", app=None)], "a changed construct must be synthesized"
    assert env == deployed_stack
    record = json.loads(local_stage.DEPLOY_RECORD.read_text())[deployed_stack["AWS_ENDPOINT_URL"]]
    assert record["inputs"] == local_stage.local_inputs_hash(
        deployed_stack["AWS_ENDPOINT_URL"], local_stage.source_inputs_hash()
    )
    assert (
        local_stage.reusable_assembly("a construct changed") == local_stage.ASSEMBLY_DIR / "local"
    )


def test_stacks_that_are_not_the_recorded_ones_deploy_again(deployed_stack, cdk_calls):
    # Records of the real inputs, whatever a test before this one left (skipped when they are).
    local_stage.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    cdk_calls.clear()
    # As after a LocalStack restart in which someone else deployed: same names, other stacks.
    records = json.loads(local_stage.DEPLOY_RECORD.read_text())
    record = records[deployed_stack["AWS_ENDPOINT_URL"]]
    record["stacks"] = {name: f"{version}-gone" for name, version in record["stacks"].items()}
    local_stage.DEPLOY_RECORD.write_text(json.dumps(records))
    local_stage.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    # The inputs are those of the assembly deploy-local synthesized last: deployed as it is.
    assert cdk_calls == [CdkCall("deploy", app=str(local_stage.ASSEMBLY_DIR / "local"))]
    local_stage.deploy_local(deployed_stack["AWS_ENDPOINT_URL"])
    assert len(cdk_calls) == 1, "the redeploy recorded the stacks anew"
