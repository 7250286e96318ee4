"""The ECR repository: immutable tags, scanned, pruned — and deployed before the service."""

import json

import pytest
from aws_cdk.assertions import Template

from hangar_infra.synthesis import Synthesized

pytestmark = pytest.mark.infra


def test_repository_has_immutable_scanned_tags_and_a_lifecycle(stage: Synthesized) -> None:
    template = Template.from_json(stage.template("registry"))
    (repository,) = template.find_resources("AWS::ECR::Repository").values()
    properties = repository["Properties"]
    assert properties["ImageTagMutability"] == "IMMUTABLE"
    assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}
    rules = json.loads(properties["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert {rule["selection"]["tagStatus"] for rule in rules} == {"untagged", "any"}


def test_service_stack_is_deployed_after_the_registry(stage: Synthesized) -> None:
    manifest = json.loads((stage.assembly / "manifest.json").read_text())
    by_name = {
        artifact.get("properties", {}).get("stackName"): (artifact_id, artifact)
        for artifact_id, artifact in manifest["artifacts"].items()
    }
    registry_name, service_name = stage.contract.stack_names(stage.stage)
    registry_id, _ = by_name[registry_name]
    _, service = by_name[service_name]
    assert registry_id in service["dependencies"]
