"""Each stage's stacks deploy through the stage's own CDK bootstrap (StageConfig.cdk_qualifier), the
one `hangar bootstrap-aws` creates for it and its GitHub deploy role may assume."""

import json

from hangar.cdk import bootstrap_template
from hangar_infra.config import STAGES
from hangar_infra.synthesis import Synthesized


def test_both_stacks_use_the_stages_bootstrap_roles_and_version(stage: Synthesized) -> None:
    qualifier = STAGES[stage.stage].cdk_qualifier
    manifest = json.loads((stage.assembly / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]

    assert len(stacks) == 2
    for artifact in stacks:
        properties = artifact["properties"]
        assert f"/cdk-{qualifier}-deploy-role-" in properties["assumeRoleArn"]
        assert f"/cdk-{qualifier}-cfn-exec-role-" in properties["cloudFormationExecutionRoleArn"]
        assert properties["bootstrapStackVersionSsmParameter"] == (
            f"/cdk-bootstrap/{qualifier}/version"
        )
    for kind in ("registry", "service"):
        parameter = stage.template(kind)["Parameters"]["BootstrapVersion"]
        assert parameter["Default"] == f"/cdk-bootstrap/{qualifier}/version"


def test_every_role_of_the_stage_carries_its_bootstraps_boundary(every_stage: Synthesized) -> None:
    """The execution policy creates no role without it (hangar.aws.stage_guardrails)."""
    stage = every_stage
    boundary = bootstrap_template.boundary_arn("111122223333", "us-east-1", stage.stage)
    name = boundary.split(":policy/", 1)[1]
    roles = {
        f"{kind}/{logical_id}": resource["Properties"].get("PermissionsBoundary")
        for kind in ("registry", "service")
        for logical_id, resource in stage.template(kind)["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }

    assert roles, "the stage creates no role: the check would pass vacuously"
    for role, arn in roles.items():
        parts = arn["Fn::Join"][1] if isinstance(arn, dict) else [arn]
        assert str(parts[-1]).endswith(f":policy/{name}"), role
