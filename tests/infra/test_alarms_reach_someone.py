"""Alarms reach someone and guard deploys: the stage's subscription (from context) on the alarm
topic, and web deployments that roll back when the 5xx or unhealthy-host alarm fires."""

from pathlib import Path
from typing import Any

import pytest

from hangar_infra.config import StageConfigError
from hangar_infra.synthesis import IMAGE_TAG, Synthesized


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def services(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(web, worker): the web service is the one behind the load balancer."""
    found = of_type(template, "AWS::ECS::Service")
    web = next(s for s in found.values() if s["Properties"].get("LoadBalancers"))
    worker = next(s for s in found.values() if not s["Properties"].get("LoadBalancers"))
    return web, worker


def test_web_deployments_roll_back_on_the_stages_own_alarms(stage: Synthesized) -> None:
    template = stage.template("service")
    web, worker = services(template)

    deployment = web["Properties"]["DeploymentConfiguration"]
    assert deployment["Alarms"]["Enable"] is True
    assert deployment["Alarms"]["Rollback"] is True
    alarm_names = {
        a["Properties"].get("AlarmName")
        for a in of_type(template, "AWS::CloudWatch::Alarm").values()
    }
    assert set(deployment["Alarms"]["AlarmNames"]) <= alarm_names
    prefix = stage.contract.resource_prefix(stage.stage)
    assert deployment["Alarms"]["AlarmNames"] == [
        f"{prefix}-web-5xx",
        f"{prefix}-web-unhealthy-hosts",
    ]
    # Circuit breaker on both; ECS rolling deployments, not blue/green (docs/infra.md says why).
    for service in (web, worker):
        assert service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
            "Enable": True,
            "Rollback": True,
        }
        assert service["Properties"].get("DeploymentController", {"Type": "ECS"}) == {"Type": "ECS"}


def test_the_deployment_alarms_watch_the_web_target_group_alone(stage: Synthesized) -> None:
    """A 5xx of anything else behind the load balancer must not roll the web service back."""
    template = stage.template("service")
    web, _ = services(template)
    [group] = of_type(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    guards = web["Properties"]["DeploymentConfiguration"]["Alarms"]["AlarmNames"]
    alarms = {
        a["Properties"].get("AlarmName"): a["Properties"]
        for a in of_type(template, "AWS::CloudWatch::Alarm").values()
    }
    for name in guards:
        assert {"Name": "TargetGroup", "Value": {"Fn::GetAtt": [group, "TargetGroupFullName"]}} in (
            alarms[name]["Dimensions"]
        ), name


def test_without_a_subscription_the_topic_has_none(stage: Synthesized) -> None:
    assert of_type(stage.template("service"), "AWS::SNS::Subscription") == {}


def synthesize_with(stage: str, outdir: Path, subscription: str) -> dict[str, Any]:
    from aws_cdk import App

    from hangar_infra.app_factory import build_stage

    context = {"stage": stage, "imageTag": IMAGE_TAG, "alarmSubscription": subscription}
    app = App(context=context, outdir=str(outdir))
    built = build_stage(app)
    assembly = app.synth()
    return assembly.get_stack_artifact(built.service.artifact_id).template  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("subscription", "protocol"),
    [("oncall@example.com", "email"), ("https://hooks.example.com/alarms", "https")],
)
def test_the_stages_subscription_is_on_the_alarm_topic(
    tmp_path: Path, subscription: str, protocol: str
) -> None:
    template = synthesize_with("staging", tmp_path, subscription)

    [topic_id] = of_type(template, "AWS::SNS::Topic")
    [subscribed] = of_type(template, "AWS::SNS::Subscription").values()
    assert subscribed["Properties"]["Protocol"] == protocol
    assert subscribed["Properties"]["Endpoint"] == subscription
    assert subscribed["Properties"]["TopicArn"] == {"Ref": topic_id}


@pytest.mark.parametrize(
    ("stage", "subscription", "message"),
    [
        ("staging", "not-an-address", "neither an e-mail address nor an https:// URL"),
        ("staging", "http://hooks.example.com", "neither an e-mail address nor an https:// URL"),
        ("local", "oncall@example.com", "stage 'local' cannot take -c alarmSubscription"),
    ],
)
def test_a_subscription_that_cannot_work_is_refused(
    tmp_path: Path, stage: str, subscription: str, message: str
) -> None:
    with pytest.raises(StageConfigError, match=message):
        synthesize_with(stage, tmp_path, subscription)
