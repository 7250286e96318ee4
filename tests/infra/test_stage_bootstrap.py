"""Each stage's stacks deploy through the stage's own CDK bootstrap (StageConfig.cdk_qualifier), the
one `hangar bootstrap-aws` creates for it and its GitHub deploy role may assume."""

import json

from cdk_synth import Synthesized

from hangar_infra.config import STAGES


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
