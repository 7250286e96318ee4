"""A failed first deploy can be retried: nothing it created survives the rollback of the creation.

Plain `DeletionPolicy: Retain` keeps a resource when its stack's creation rolls back; with a fixed
name (the app and database log groups, the ECR repository, the database identifier) the retry then
fails "already exists" until someone deletes it by hand. Retained stages use RetainExceptOnCreate.
"""

from typing import Any

from cdk_synth import Synthesized

# Delete on a failed creation; Snapshot deletes the instance too (after taking a final snapshot).
SAFE_ON_FAILED_CREATE = {None, "Delete", "RetainExceptOnCreate", "Snapshot"}


def survivors_of_a_failed_create(template: dict[str, Any]) -> list[str]:
    return sorted(
        f"{logical_id} ({resource['Type']})"
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("DeletionPolicy") not in SAFE_ON_FAILED_CREATE
    )


def test_no_resource_of_any_stage_survives_a_failed_first_deploy(stage: Synthesized) -> None:
    for stack in ("registry", "service"):
        assert survivors_of_a_failed_create(stage.template(stack)) == [], (stage.stage, stack)


def test_retained_stages_still_keep_their_data_on_update_and_delete(stage: Synthesized) -> None:
    template = stage.template("service")
    log_groups = [r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    expected = "RetainExceptOnCreate" if stage.stage in ("staging", "prod") else "Delete"
    assert {group["DeletionPolicy"] for group in log_groups} == {expected}
    if stage.stage in ("staging", "prod"):
        assert {group["UpdateReplacePolicy"] for group in log_groups} == {"Retain"}


def test_the_check_finds_a_plainly_retained_resource() -> None:
    template = {
        "Resources": {
            "AppLogs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/hangar/prod/app"},
                "DeletionPolicy": "Retain",
            },
            "Queue": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "RetainExceptOnCreate"},
        }
    }

    assert survivors_of_a_failed_create(template) == ["AppLogs (AWS::Logs::LogGroup)"]
