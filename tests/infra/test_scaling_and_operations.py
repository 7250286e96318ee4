"""Production behaviour on the synthesized templates: scaling from the measured capacity, shutdown
timings that agree, ECS Exec with its audit log, and AWS WAF on the production load balancer."""

from typing import Any

import pytest
from aws_cdk.assertions import Template
from declared_project import declaring_everything

from hangar.core import capacity
from hangar.core.contract import Contract
from hangar_infra.config import STAGES
from hangar_infra.synthesis import Synthesized

pytestmark = pytest.mark.infra
# The construct of the declared queue's worker.
WORKER = f"{declaring_everything().worker_queues[0].id}Worker"


def service(stage: Synthesized) -> Template:
    return Template.from_json(stage.template("service"))


def resources(stage: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return service(stage).find_resources(resource_type)


def one(stage: Synthesized, resource_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    found = [(i, r) for i, r in resources(stage, resource_type).items() if i.startswith(prefix)]
    assert len(found) == 1, (prefix, list(resources(stage, resource_type)))
    return found[0]


def web_container(stage: Synthesized) -> dict[str, Any]:
    _, task = one(stage, "AWS::ECS::TaskDefinition", "WebTaskDefinition")
    return task["Properties"]["ContainerDefinitions"][0]


def environment(container: dict[str, Any]) -> dict[str, Any]:
    return {pair["Name"]: pair["Value"] for pair in container["Environment"]}


def policies_of(stage: Synthesized, service_prefix: str) -> list[dict[str, Any]]:
    services = resources(stage, "AWS::ECS::Service")
    service_id = next(i for i in services if i.startswith(service_prefix))
    targets = [
        target_id
        for target_id, target in resources(
            stage, "AWS::ApplicationAutoScaling::ScalableTarget"
        ).items()
        if service_id in str(target["Properties"]["ResourceId"])
    ]
    assert len(targets) == 1
    return [
        policy["Properties"]
        for policy in resources(stage, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if policy["Properties"].get("ScalingTargetId") == {"Ref": targets[0]}
    ]


# --- capacity and scaling ---------------------------------------------------------------------


def test_web_scales_between_the_stages_minimum_and_maximum(stage: Synthesized) -> None:
    config = STAGES[stage.stage]
    service(stage).has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": config.web_min_count,
            "MaxCapacity": config.web_max_count,
            "ScalableDimension": "ecs:service:DesiredCount",
        },
    )
    # The count is autoscaling's: a deploy must not reset a scaled-out service.
    _, web = one(stage, "AWS::ECS::Service", "WebService")
    assert "DesiredCount" not in web["Properties"]


def test_web_tracks_requests_per_task_from_the_measured_capacity_and_cpu(
    stage: Synthesized, declared_contract: Contract
) -> None:
    config = STAGES[stage.stage]
    capacity_path = stage.contract.capacity_path
    assert capacity_path is not None, "the stage's project declares the page its capacity is on"
    measured = capacity.measured_capacity(config.web_cpu, config.web_memory_mib, capacity_path)
    tracking = {
        p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]: p["TargetTrackingScalingPolicyConfiguration"]
        for p in policies_of(stage, "WebService")
    }
    assert set(tracking) == {"ALBRequestCountPerTarget", "ECSServiceAverageCPUUtilization"}
    requests = tracking["ALBRequestCountPerTarget"]
    assert requests["TargetValue"] == measured.requests_per_target_per_minute
    assert requests["TargetValue"] < measured.requests_per_second * 60  # headroom kept
    # The metric is the web target group's (its full name, behind the load balancer's).
    resource_label = requests["PredefinedMetricSpecification"]["ResourceLabel"]
    assert "WebGroup" in str(resource_label)
    # From the full-name attributes, not Fn::Select over an ARN (which LocalStack's breaks).
    assert "LoadBalancerFullName" in str(resource_label)
    assert "TargetGroupFullName" in str(resource_label)
    assert "Fn::Select" not in str(resource_label)
    assert tracking["ECSServiceAverageCPUUtilization"]["TargetValue"] == (
        capacity.CPU_TARGET_PERCENT
    )


def test_worker_scales_on_its_backlog_per_running_task(stage: Synthesized) -> None:
    policies = policies_of(stage, f"{WORKER}Service")
    assert {p["PolicyType"] for p in policies} == {"StepScaling"}
    alarms = [
        a["Properties"]
        for a in resources(stage, "AWS::CloudWatch::Alarm").values()
        if "BacklogPerTask" in str(a["Properties"].get("AlarmActions"))
    ]
    assert len(alarms) == 2  # one to scale out, one to scale in
    for alarm in alarms:
        metrics = {m["Id"]: m for m in alarm["Metrics"]}
        expression = next(m["Expression"] for m in metrics.values() if "Expression" in m)
        assert "visible / FILL(tasks, 0)" in expression.replace("FILL(visible, 0)", "visible")
        assert metrics["tasks"]["MetricStat"]["Metric"]["MetricName"] == "RunningTaskCount"
        assert metrics["visible"]["MetricStat"]["Metric"]["MetricName"] == (
            "ApproximateNumberOfMessagesVisible"
        )
    thresholds = sorted(a["Threshold"] for a in alarms)
    assert thresholds == [0, capacity.WORKER_BACKLOG_PER_TASK]


def test_web_runs_gunicorn_sized_from_its_task(stage: Synthesized) -> None:
    config = STAGES[stage.stage]
    size = capacity.gunicorn_size(config.web_cpu, config.web_memory_mib)
    env = environment(web_container(stage))
    assert env["WEB_CONCURRENCY"] == str(size.processes)
    assert env["GUNICORN_THREADS"] == str(size.threads)


def test_shutdown_timings_agree_from_one_source(stage: Synthesized) -> None:
    container = web_container(stage)
    env = environment(container)
    _, group = one(stage, "AWS::ElasticLoadBalancingV2::TargetGroup", "LoadBalancerAlbHttpWebGroup")
    attributes = {a["Key"]: a["Value"] for a in group["Properties"]["TargetGroupAttributes"]}
    deregistration = int(attributes["deregistration_delay.timeout_seconds"])
    request_timeout = int(env["GUNICORN_TIMEOUT"])
    graceful = int(env["GUNICORN_GRACEFUL_TIMEOUT"])

    assert request_timeout == capacity.REQUEST_TIMEOUT_SECONDS
    assert deregistration >= request_timeout  # in-flight requests finish while draining
    assert graceful >= request_timeout  # gunicorn lets a request that just arrived finish
    assert container["StopTimeout"] > graceful  # SIGKILL only after gunicorn's graceful time
    _, worker = one(stage, "AWS::ECS::TaskDefinition", f"{WORKER}TaskDefinition")
    assert worker["Properties"]["ContainerDefinitions"][0]["StopTimeout"] == (
        capacity.WORKER_STOP_TIMEOUT_SECONDS
    )


# --- ECS Exec -----------------------------------------------------------------------------------


def test_both_services_accept_ecs_exec(stage: Synthesized) -> None:
    for definition in resources(stage, "AWS::ECS::Service").values():
        assert definition["Properties"]["EnableExecuteCommand"] is True


def test_every_container_runs_an_init_process_for_ecs_exec(stage: Synthesized) -> None:
    """AWS's ECS Exec prerequisite: an init process reaps what the sessions leave behind."""
    tasks = resources(stage, "AWS::ECS::TaskDefinition")
    assert len(tasks) == 3  # web, worker, migration
    for task in tasks.values():
        for container in task["Properties"]["ContainerDefinitions"]:
            assert container["LinuxParameters"]["InitProcessEnabled"] is True


def test_ecs_exec_sessions_are_encrypted_and_logged_to_an_encrypted_group(
    stage: Synthesized,
) -> None:
    _, cluster = one(stage, "AWS::ECS::Cluster", "Cluster")
    configuration = cluster["Properties"]["Configuration"]["ExecuteCommandConfiguration"]
    key_id, _ = one(stage, "AWS::KMS::Key", "ExecAuditKey")
    log_id, log_group = one(stage, "AWS::Logs::LogGroup", "ExecAuditLogs")
    assert configuration["Logging"] == "OVERRIDE"
    assert configuration["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert configuration["LogConfiguration"] == {
        "CloudWatchEncryptionEnabled": True,
        "CloudWatchLogGroupName": {"Ref": log_id},
    }
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    expected = f"/{stage.contract.service_name}/{stage.stage}/ecs-exec"
    assert log_group["Properties"]["LogGroupName"] == expected


def test_the_task_role_holds_what_ecs_exec_needs_and_no_more(stage: Synthesized) -> None:
    roles = resources(stage, "AWS::IAM::Role")
    task_role = next(i for i in roles if i.startswith("AppTaskRole"))
    statements = [
        statement
        for policy in resources(stage, "AWS::IAM::Policy").values()
        if {"Ref": task_role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    exec_actions = {
        action
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if not action.startswith(("s3:", "sqs:"))
    }
    assert exec_actions == {
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
        "logs:DescribeLogGroups",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        # The agent encrypts what it writes to the log group with the exec key.
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }


# --- AWS WAF ------------------------------------------------------------------------------------


PROD = "prod+https"


def test_only_the_production_stage_has_a_web_firewall(stage: Synthesized) -> None:
    expected = 1 if STAGES[stage.stage].web_firewall else 0
    assert (stage.stage == "prod") == bool(expected)
    service(stage).resource_count_is("AWS::WAFv2::WebACL", expected)
    service(stage).resource_count_is("AWS::WAFv2::WebACLAssociation", expected)


def test_waf_guards_the_production_load_balancer(synthesized: dict[str, Synthesized]) -> None:
    stage = synthesized[PROD]
    template = service(stage)
    acl_id, acl = one(stage, "AWS::WAFv2::WebACL", "WebFirewall")
    alb_id, _ = one(stage, "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancerAlb")
    template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {"ResourceArn": {"Ref": alb_id}, "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]}},
    )
    properties = acl["Properties"]
    assert properties["Scope"] == "REGIONAL"
    assert properties["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in properties["Rules"]}
    managed = {
        name for name, rule in rules.items() if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert managed == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    rate = rules["RateLimitPerIp"]
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Action"] == {"Block": {}}
    assert len({rule["Priority"] for rule in rules.values()}) == len(rules)


# Every managed rule that inspects the body, as AWS documents them: a CSV or text upload can match
# any of them (a path, a script tag, a URL, the metadata address, a size over 8 KB).
BODY_RULES = {
    "AWSManagedRulesCommonRuleSet": {
        "SizeRestrictions_BODY": "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body",
        "EC2MetaDataSSRF_BODY": "awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_Body",
        "GenericLFI_BODY": "awswaf:managed:aws:core-rule-set:GenericLFI_Body",
        "GenericRFI_BODY": "awswaf:managed:aws:core-rule-set:GenericRFI_Body",
        "CrossSiteScripting_BODY": "awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body",
    },
    "AWSManagedRulesKnownBadInputsRuleSet": {
        "JavaDeserializationRCE_BODY": (
            "awswaf:managed:aws:known-bad-inputs:JavaDeserializationRCE_Body"
        ),
        "Log4JRCE_BODY": "awswaf:managed:aws:known-bad-inputs:Log4JRCE_Body",
    },
}


def test_waf_body_rules_let_uploads_through_and_block_everywhere_else(
    synthesized: dict[str, Synthesized],
) -> None:
    _, acl = one(synthesized[PROD], "AWS::WAFv2::WebACL", "WebFirewall")
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    for group, body_rules in BODY_RULES.items():
        managed = rules[group]["Statement"]["ManagedRuleGroupStatement"]
        assert managed["RuleActionOverrides"] == [
            {"Name": name, "ActionToUse": {"Count": {}}} for name in body_rules
        ]
    outside = rules["BodyRulesOutsideUploads"]
    # After the groups, whose labels on the requests it reads.
    assert outside["Priority"] > max(rules[group]["Priority"] for group in BODY_RULES)
    assert outside["Action"] == {"Block": {}}
    labelled, *not_uploads = outside["Statement"]["AndStatement"]["Statements"]
    assert {s["LabelMatchStatement"]["Key"] for s in labelled["OrStatement"]["Statements"]} == {
        label for body_rules in BODY_RULES.values() for label in body_rules.values()
    }
    exempt = {
        s["NotStatement"]["Statement"]["ByteMatchStatement"]["SearchString"] for s in not_uploads
    }
    assert exempt == set(synthesized[PROD].contract.upload_paths)
    assert exempt
