"""A first create that fails at any resource can be retried with no manual cleanup, on every stage.

CloudFormation rolls a failed create back by deleting what it created. The retry then works only
if every one of those deletions succeeds and frees the name the resource held (the log groups, the
repository, the database identifier and the alarms have fixed names):

- no resource is kept by its DeletionPolicy (plain Retain keeps it; RetainExceptOnCreate does not);
- no resource is protected from deletion while the create runs: protection comes from the
  DeletionProtection parameter (hangar.core.stage_interface), "false" until the create completed;
- no bucket holds objects when it is deleted (the load balancer writes a test object into the log
  bucket as soon as it exists): each is emptied by a custom resource deleted with it, and the
  load balancer is deleted before that empties the log bucket.

A failing deletion ends the create in ROLLBACK_FAILED, and the retry in "already exists".
"""

from typing import Any

import pytest

from hangar.core.stage_interface import DELETION_PROTECTION
from hangar_infra.synthesis import Synthesized

pytestmark = pytest.mark.infra

# Delete on a failed creation; Snapshot deletes the instance too (after taking a final snapshot).
SAFE_ON_FAILED_CREATE = {None, "Delete", "RetainExceptOnCreate", "Snapshot"}
EMPTIES_BUCKET = "Custom::S3AutoDeleteObjects"


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r for k, r in template.get("Resources", {}).items() if r["Type"] == kind}


def survivors_of_a_failed_create(template: dict[str, Any]) -> list[str]:
    return sorted(
        f"{logical_id} ({resource['Type']})"
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("DeletionPolicy") not in SAFE_ON_FAILED_CREATE
    )


def protection_settings(value: Any, path: str) -> list[tuple[str, Any]]:
    """Every deletion-protection setting under `value`: properties named *DeletionProtection*
    (RDS, DynamoDB, Logs, …) and the load balancer attribute deletion_protection.enabled."""
    if isinstance(value, list):
        return [hit for item in value for hit in protection_settings(item, path)]
    if not isinstance(value, dict):
        return []
    if value.get("Key") == "deletion_protection.enabled":
        return [(f"{path}.deletion_protection.enabled", value.get("Value"))]
    found = []
    for key, item in value.items():
        if "DeletionProtection" in key:
            found.append((f"{path}.{key}", item))
        else:
            found += protection_settings(item, f"{path}.{key}")
    return found


def protected_during_create(template: dict[str, Any]) -> list[str]:
    """Settings that protect a resource before the stack's first create completed."""
    parameter = template.get("Parameters", {}).get(DELETION_PROTECTION, {})
    after_create = {"Ref": DELETION_PROTECTION} if parameter.get("Default") == "false" else None
    return [
        f"{where} = {setting}"
        for logical_id, resource in template.get("Resources", {}).items()
        for where, setting in protection_settings(resource.get("Properties", {}), logical_id)
        if setting not in (False, "false", after_create)
    ]


def buckets_left_full(template: dict[str, Any]) -> list[str]:
    """Buckets that a failed create would try to delete with their objects still in them."""
    emptying = {
        resource["Properties"]["BucketName"]["Ref"]: resource.get("DeletionPolicy")
        for resource in of_type(template, EMPTIES_BUCKET).values()
    }
    return sorted(
        bucket
        for bucket, resource in of_type(template, "AWS::S3::Bucket").items()
        # Emptied exactly when the bucket is deleted: on a failed create, never when it is kept.
        if bucket not in emptying or emptying[bucket] != resource.get("DeletionPolicy")
    )


def test_no_resource_of_any_stage_survives_a_failed_first_deploy(every_stage: Synthesized) -> None:
    stage = every_stage
    for stack in ("registry", "service"):
        assert survivors_of_a_failed_create(stage.template(stack)) == [], (stage.stage, stack)


def test_nothing_is_protected_from_deletion_before_the_first_create_completed(
    every_stage: Synthesized,
) -> None:
    stage = every_stage
    for stack in ("registry", "service"):
        assert protected_during_create(stage.template(stack)) == [], (stage.stage, stack)


def test_prod_protects_its_database_once_the_first_create_completed(stage: Synthesized) -> None:
    template = stage.template("service")
    [database] = of_type(template, "AWS::RDS::DBInstance").values()
    protection = database["Properties"].get("DeletionProtection")
    if stage.stage == "prod":
        assert protection == {"Ref": DELETION_PROTECTION}
        assert template["Parameters"][DELETION_PROTECTION]["AllowedValues"] == ["false", "true"]
    else:
        assert protection is False
        assert DELETION_PROTECTION not in template.get("Parameters", {})


def test_every_bucket_is_emptied_when_a_failed_create_deletes_it(stage: Synthesized) -> None:
    template = stage.template("service")
    if stage.stage == "local":
        # LocalStack deletes a bucket with its objects, and cannot run the emptying Lambda
        # without Docker (StageConfig.auto_delete_objects).
        assert of_type(template, EMPTIES_BUCKET) == {}
        return
    assert buckets_left_full(template) == []
    [balancer] = of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    empties_logs = [
        logical_id
        for logical_id, resource in of_type(template, EMPTIES_BUCKET).items()
        if resource["Properties"]["BucketName"]
        == next(
            a["Value"]
            for a in balancer["Properties"]["LoadBalancerAttributes"]
            if a["Key"] == "access_logs.s3.bucket"
        )
    ]
    assert empties_logs
    assert set(empties_logs) <= set(balancer["DependsOn"])


def test_retained_stages_still_keep_their_data_on_update_and_delete(stage: Synthesized) -> None:
    template = stage.template("service")
    kept = [
        r
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::Logs::LogGroup", "AWS::S3::Bucket", EMPTIES_BUCKET)
    ]
    expected = "RetainExceptOnCreate" if stage.stage in ("staging", "prod") else "Delete"
    assert {resource["DeletionPolicy"] for resource in kept} == {expected}
    if stage.stage in ("staging", "prod"):
        assert {resource["UpdateReplacePolicy"] for resource in kept} == {"Retain"}


def test_the_checks_find_what_would_block_a_retry() -> None:
    template = {
        "Parameters": {DELETION_PROTECTION: {"Type": "String", "Default": "true"}},
        "Resources": {
            "AppLogs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/hangar/prod/app"},
                "DeletionPolicy": "Retain",
            },
            "Queue": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "RetainExceptOnCreate"},
            "Database": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {"DBInstanceIdentifier": "hangar-prod-postgres"},
            },
            "Alb": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"LoadBalancerAttributes": []},
            },
            "Logs": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate"},
            "Uploads": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate"},
            "EmptyUploads": {
                "Type": EMPTIES_BUCKET,
                "Properties": {"BucketName": {"Ref": "Uploads"}},
                # Emptied on the stage's delete too, while the bucket is kept: data loss.
                "DeletionPolicy": "Delete",
            },
        },
    }
    resources = template["Resources"]

    assert survivors_of_a_failed_create(template) == ["AppLogs (AWS::Logs::LogGroup)"]
    assert buckets_left_full(template) == ["Logs", "Uploads"]
    assert protected_during_create(template) == []
    resources["Database"]["Properties"]["DeletionProtection"] = True
    resources["Alb"]["Properties"]["LoadBalancerAttributes"] = [
        {"Key": "deletion_protection.enabled", "Value": "true"}
    ]
    assert protected_during_create(template) == [
        "Database.DeletionProtection = True",
        "Alb.LoadBalancerAttributes.deletion_protection.enabled = true",
    ]
    # The parameter protects only while its default is "false" (off during the first create).
    resources["Database"]["Properties"]["DeletionProtection"] = {"Ref": DELETION_PROTECTION}
    resources["Alb"]["Properties"]["LoadBalancerAttributes"] = []
    assert protected_during_create(template) == [
        "Database.DeletionProtection = {'Ref': 'DeletionProtection'}"
    ]
    template["Parameters"][DELETION_PROTECTION]["Default"] = "false"
    assert protected_during_create(template) == []
