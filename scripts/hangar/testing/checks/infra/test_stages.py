"""The project's stages synthesize, and cdk-nag and cfn-lint find nothing in them: what CDK
deploys for its contract is what the platform's compliance rules allow (each stage once per test
session, hangar.testing.stages)."""

import pytest

from hangar_infra.synthesis import Synthesized

pytestmark = pytest.mark.infra


def test_stage_synthesizes_with_no_cdk_nag_finding(project_stage: Synthesized) -> None:
    findings = project_stage.nag_findings()
    assert findings == [], "\n".join(findings)
    assert project_stage.error is None, f"synth of {project_stage.stage}: {project_stage.error}"


def test_cfn_lint_finds_no_error(project_stage: Synthesized) -> None:
    errors = project_stage.cfn_lint_errors()
    assert errors == [], "\n".join(errors)
