"""cdk-nag (AwsSolutions) and cfn-lint pass on every stage of the project declaring every feature:
no open finding, no lint error. The checkout's own stages get the same checks from the platform's
checks on the project (hangar.testing.checks.infra.test_stages), which make test runs too."""

import json
from pathlib import Path

import pytest

from hangar.testing.checks.infra.test_stages import (
    test_cfn_lint_finds_no_error as platform_cfn_lint_check,
)
from hangar.testing.checks.infra.test_stages import (
    test_stage_synthesizes_with_no_cdk_nag_finding as platform_nag_check,
)
from hangar_infra.synthesis import Synthesized

pytestmark = pytest.mark.infra


def test_cdk_nag_reports_no_unacknowledged_finding(stage: Synthesized) -> None:
    findings = stage.nag_findings()
    assert findings == [], "\n".join(findings)
    assert stage.error is None, f"synth of {stage.stage} failed: {stage.error}"


def test_cdk_nag_runs_in_the_app_and_fails_synth_on_a_finding(tmp_path: Path) -> None:
    """The checks of cdk-nag's findings (above, and the platform's on every project's stages) are
    only worth something if the plugin is wired in: add a finding, see it, and see them fail."""
    from aws_cdk import App
    from aws_cdk import aws_sqs as sqs

    from hangar_infra.app_factory import build_stage

    app = App(context={"stage": "local"}, outdir=str(tmp_path))
    stage = build_stage(app)
    sqs.Queue(stage.service, "QueueWithoutDeadLettersOrTls")
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS3") as failure:
        app.synth()
    flagged = f"{stage.node.id}/Service/QueueWithoutDeadLettersOrTls"
    assert flagged in str(failure.value)
    synthesized = Synthesized("local", tmp_path, failure.value)
    with pytest.raises(AssertionError, match=f"AwsSolutions-SQS3 at {flagged}"):
        platform_nag_check(synthesized)


def test_cfn_lint_errors_fail_the_platform_check(tmp_path: Path) -> None:
    """A template CloudFormation would refuse (a property its resource type lacks) fails the
    platform's cfn-lint check, naming the template and the rule."""
    stage = Synthesized("local", tmp_path, None)
    stage.assembly.mkdir()
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"NoSuchProperty": "x"}}
    template = {"Resources": {"Queue": queue}}
    (stage.assembly / "broken.template.json").write_text(json.dumps(template))
    with pytest.raises(AssertionError, match=r"broken\.template\.json: \[E3002: .*NoSuchProperty"):
        platform_cfn_lint_check(stage)


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


def test_cfn_lint_finds_no_error(stage: Synthesized) -> None:
    errors = stage.cfn_lint_errors()
    assert errors == [], "\n".join(errors)
