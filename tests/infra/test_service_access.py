"""AWS's own services reach what they must, evaluated as AWS does: against resource policies.

Found by walking every stage's templates (hangar.deploy.service_access): CloudWatch publishing each
alarm to the alarm topic and using the topic's key, CloudWatch Logs using the ECS Exec audit key,
the load balancer writing its access logs and S3 delivering each declared bucket's server access
logs into the log bucket. Each is decided by the IAM simulator against the target's policy.
"""

import copy
from typing import Any

import pytest
from aws_cdk.region_info import RegionInfo

from hangar.core.stages import REGION
from hangar.deploy.service_access import Access, evaluate, service_requests
from hangar_infra.config import STAGES
from hangar_infra.synthesis import Synthesized

pytestmark = pytest.mark.infra

# Where the stage leaves the account to the deploying credentials (all but local's LocalStack).
ANY_ACCOUNT = "123456789012"


def accesses(template: dict[str, Any], account: str) -> list[Access]:
    elb_account = RegionInfo.get(REGION).elbv2_account
    assert elb_account, f"CDK knows no Elastic Load Balancing account for {REGION}"
    return service_requests(template, account=account, region=REGION, elb_account=elb_account)


def refused(template: dict[str, Any], account: str) -> list[str]:
    return [
        f"{access} -> {decision.decision} {decision.detail}"
        for access, decision in evaluate(accesses(template, account), account=account)
        if not decision.allowed
    ]


def account_of(stage: Synthesized) -> str:
    return STAGES[stage.stage].account or ANY_ACCOUNT


def of_type(template: dict[str, Any], kind: str) -> list[str]:
    return [k for k, r in template["Resources"].items() if r["Type"] == kind]


def notifying(template: dict[str, Any], topic: str) -> list[str]:
    """The alarms whose actions publish to `topic` (autoscaling's own act on scaling policies)."""
    return [
        alarm
        for alarm in of_type(template, "AWS::CloudWatch::Alarm")
        if {"Ref": topic} in template["Resources"][alarm]["Properties"].get("AlarmActions", [])
    ]


def paths(template: dict[str, Any], account: str) -> set[tuple[str, str, str, str]]:
    """(source, target, principal, action) of each access: the logical ids at both path ends."""
    found = set()
    for access in accesses(template, account):
        source, target = access.path.split(" ")[0], access.path.split(" -> ")[-1].split(" ")[0]
        found.add((source, target, access.request.principal, access.request.request.action))
    return found


def test_every_service_reaches_what_it_must(every_stage: Synthesized) -> None:
    stage = every_stage
    for stack in ("registry", "service"):
        assert refused(stage.template(stack), account_of(stage)) == [], (stage.stage, stack)


def test_the_walk_finds_every_path_a_service_takes(stage: Synthesized) -> None:
    template = stage.template("service")
    found = paths(template, account_of(stage))
    [topic] = of_type(template, "AWS::SNS::Topic")
    [topic_key] = [
        key for key in of_type(template, "AWS::KMS::Key") if key.startswith("MonitoringAlarmTopic")
    ]
    alarms = notifying(template, topic)
    assert len(alarms) >= 5, alarms
    for alarm in alarms:
        assert (alarm, topic, "cloudwatch.amazonaws.com", "sns:Publish") in found
        assert (alarm, topic_key, "cloudwatch.amazonaws.com", "kms:GenerateDataKey") in found
    [audit_logs] = [
        g for g in of_type(template, "AWS::Logs::LogGroup") if g.startswith("ExecAudit")
    ]
    assert any(p[0] == audit_logs and p[2] == f"logs.{REGION}.amazonaws.com" for p in found)
    [balancer] = of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert any(p[0] == balancer and p[3] == "s3:PutObject" for p in found)
    assert any(p[2] == "logging.s3.amazonaws.com" for p in found)


def test_an_alarm_topic_policy_with_only_the_tls_deny_shuts_cloudwatch_out(
    synthesized: dict[str, Synthesized],
) -> None:
    """What `enforce_ssl` alone wrote: the check must see that CloudWatch cannot publish."""
    template = copy.deepcopy(synthesized["staging"].template("service"))
    [policy] = of_type(template, "AWS::SNS::TopicPolicy")
    document = template["Resources"][policy]["Properties"]["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    [topic] = of_type(template, "AWS::SNS::Topic")

    denied = refused(template, ANY_ACCOUNT)

    assert len(denied) == len(notifying(template, topic)), denied
    assert all(
        "cloudwatch.amazonaws.com sns:Publish" in line and line.endswith("ImplicitlyDenied ")
        for line in denied
    ), denied
