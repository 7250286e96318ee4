"""cdk-nag (AwsSolutions) and cfn-lint pass on every stage: no open finding, no lint error."""

import json
from pathlib import Path

import pytest
from cdk_synth import Synthesized

pytestmark = pytest.mark.infra


def test_cdk_nag_reports_no_unacknowledged_finding(every_stage: Synthesized) -> None:
    stage = every_stage
    # A finding fails app.synth() (policy validation) and lands in validation-report.json.
    report = json.loads((stage.outdir / "validation-report.json").read_text())
    findings = [
        f"{violation['ruleName']} at {construct['constructPath']}"
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation.get("violatingConstructs", [])
    ]
    assert findings == [], "\n".join(findings)
    assert stage.error is None, f"synth of {stage.stage} failed: {stage.error}"


def test_cdk_nag_runs_in_the_app_and_fails_synth_on_a_finding(tmp_path: Path) -> None:
    """The check above is only worth something if the plugin is wired in: add a finding, see it."""
    from aws_cdk import App
    from aws_cdk import aws_sqs as sqs

    from hangar_infra.app_factory import build_stage

    app = App(context={"stage": "local"}, outdir=str(tmp_path))
    stage = build_stage(app)
    sqs.Queue(stage.service, "QueueWithoutDeadLettersOrTls")
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS3") as failure:
        app.synth()
    assert f"{stage.node.id}/Service/QueueWithoutDeadLettersOrTls" in str(failure.value)


def test_every_acknowledgement_gives_a_reason(every_stage: Synthesized) -> None:
    stage = every_stage
    acknowledged = {
        rule: reason
        for path in stage.assembly.glob("*.metadata.json")
        for entries in json.loads(path.read_text()).values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    assert any("AwsSolutions-ECS2" in rule for rule in acknowledged)
    for rule, reason in acknowledged.items():
        assert len(reason) > 40, f"{rule}: acknowledgement needs a real reason, got {reason!r}"


def test_cfn_lint_finds_no_error(every_stage: Synthesized) -> None:
    stage = every_stage
    errors = stage.cfn_lint_errors()
    assert errors == [], "\n".join(errors)
