"""What the service stack must do in every stage, asserted on the synthesized templates of the
project declaring everything (a bucket, a queue and its worker: tests/declared_project.py)."""

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from declared_project import declaring_everything

from hangar_infra.synthesis import Synthesized

pytestmark = pytest.mark.infra

SECRET_VARIABLES = {"DJANGO_SECRET_KEY", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"}
MIGRATE = ["python", "manage.py", "migrate", "--noinput"]
# Hangar's own settings, and the variables of the app's declared buckets and queues.
PLAIN_VARIABLES = {
    "DJANGO_ENV",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_HTTPS",
    "AWS_REGION",
    *declaring_everything().env_from_outputs,
}
# The web container alone: gunicorn's size and timeouts (test_scaling_and_operations.py).
WEB_SERVER_VARIABLES = {
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
}


def service(stage: Synthesized) -> Template:
    return Template.from_json(stage.template("service"))


def resources(stage: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return service(stage).find_resources(resource_type)


def containers(stage: Synthesized) -> dict[str, dict[str, Any]]:
    """Task definition logical id → its (single) container definition."""
    return {
        logical_id: task["Properties"]["ContainerDefinitions"][0]
        for logical_id, task in resources(stage, "AWS::ECS::TaskDefinition").items()
    }


def test_target_group_checks_the_health_path_for_200(checkout_stage: Synthesized) -> None:
    stage = checkout_stage
    service(stage).has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "HealthCheckPath": stage.contract.health_path,
            "Matcher": {"HttpCode": "200"},
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
        },
    )


def test_services_roll_back_a_failing_deployment_without_losing_capacity(
    stage: Synthesized,
) -> None:
    services = resources(stage, "AWS::ECS::Service")
    assert len(services) == 2
    for definition in services.values():
        configuration = definition["Properties"]["DeploymentConfiguration"]
        assert configuration["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        assert configuration["MinimumHealthyPercent"] == 100
        assert configuration["MaximumPercent"] == 200
    web = [s for s in services.values() if "LoadBalancers" in s["Properties"]]
    assert len(web) == 1
    assert web[0]["Properties"]["HealthCheckGracePeriodSeconds"] >= 60


def test_secrets_are_injected_from_secrets_manager_never_as_plain_environment(
    stage: Synthesized,
) -> None:
    for container in containers(stage).values():
        secrets = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
        plain = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert set(secrets) == SECRET_VARIABLES
        assert set(plain) - WEB_SERVER_VARIABLES == PLAIN_VARIABLES
        assert plain["DJANGO_ENV"] == "production"
        # DB_* come from the RDS secret's JSON fields (ARN:field::).
        assert ":host::" in str(secrets["DB_HOST"])
        assert ":password::" in str(secrets["DB_PASSWORD"])


def test_allowed_hosts_are_the_load_balancer_and_the_stage_domain(stage: Synthesized) -> None:
    from hangar_infra.config import stage_config

    config = stage_config(stage.stage, stage.contract)
    container = next(iter(containers(stage).values()))
    hosts = next(
        e["Value"] for e in container["Environment"] if e["Name"] == "DJANGO_ALLOWED_HOSTS"
    )
    separator, (load_balancer, *rest) = hosts["Fn::Join"]
    assert separator == ","
    assert load_balancer["Fn::GetAtt"][1] == "DNSName"
    expected = ([config.domain] if config.domain else []) + list(config.extra_allowed_hosts)
    # CDK folds the literal entries of a join into one string.
    assert ",".join(rest) == ",".join(expected)


def test_migration_task_runs_migrate_with_the_app_image(stage: Synthesized) -> None:
    by_command = {tuple(c.get("Command", ())): c for c in containers(stage).values()}
    migrate = by_command[tuple(MIGRATE)]
    web = next(c for c in by_command.values() if c.get("PortMappings"))
    assert migrate["Image"] == web["Image"]
    outputs = service(stage).find_outputs("*")
    for name in (
        "MigrationTaskDefinitionArn",
        "ClusterName",
        "MigrationSubnetIds",
        "MigrationSecurityGroupId",
    ):
        assert name in outputs


def test_web_runs_the_image_command_and_the_worker_the_worker_command(stage: Synthesized) -> None:
    commands = sorted(str(c.get("Command")) for c in containers(stage).values())
    worker = stage.contract.worker_command
    assert worker is not None, "the project declares a worker"
    assert commands == sorted(["None", str(list(worker)), str(MIGRATE)])


def test_image_is_pinned_to_the_tag_from_context(stage: Synthesized) -> None:
    from hangar_infra.synthesis import IMAGE_TAG

    expected = "local" if stage.stage == "local" else IMAGE_TAG
    for container in containers(stage).values():
        image_parts = container["Image"]["Fn::Join"][1]
        assert image_parts[-1].endswith(f":{expected}"), image_parts


def test_bucket_is_private_encrypted_and_tls_only(stage: Synthesized) -> None:
    template = service(stage)
    template.resource_properties_count_is(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": Match.object_like(
                {"ServerSideEncryptionConfiguration": Match.any_value()}
            ),
        },
        2,
    )
    for policy in resources(stage, "AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            and s["Principal"] == {"AWS": "*"}
            for s in statements
        ), statements


def test_the_declared_bucket_is_versioned_in_prod_and_removal_follows_the_stage(
    stage: Synthesized,
) -> None:
    buckets = resources(stage, "AWS::S3::Bucket")
    declared = next(b for b in buckets.values() if "LoggingConfiguration" in b["Properties"])
    versioned = declared["Properties"].get("VersioningConfiguration") == {"Status": "Enabled"}
    assert versioned == (stage.stage in ("staging", "prod"))
    retained = "RetainExceptOnCreate"  # a failed first deploy removes it: the retry can succeed
    expected_policy = {"local": "Delete", "dev": "Delete", "staging": retained, "prod": retained}
    assert declared["DeletionPolicy"] == expected_policy[stage.stage]
    # Emptied when deleted, but in LocalStack (tests/infra/test_retryable_first_deploy.py).
    auto_delete = resources(stage, "Custom::S3AutoDeleteObjects")
    assert bool(auto_delete) == (stage.stage != "local")


def test_queue_redrives_to_the_dead_letter_queue_with_the_stage_settings(
    stage: Synthesized,
) -> None:
    from hangar_infra.config import STAGES

    config = STAGES[stage.stage]
    queues = resources(stage, "AWS::SQS::Queue")
    main = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    assert len(queues) == 2
    assert len(main) == 1
    properties = main[0]["Properties"]
    assert properties["RedrivePolicy"]["maxReceiveCount"] == config.queue_max_receive_count
    assert properties["VisibilityTimeout"] == config.queue_visibility_timeout_seconds
    dead_letter_id = next(i for i, q in queues.items() if "RedrivePolicy" not in q["Properties"])
    assert properties["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": [dead_letter_id, "Arn"]
    }
    if stage.stage == "local":
        assert (config.queue_max_receive_count, config.queue_visibility_timeout_seconds) == (3, 5)


def _task_role_statements(stage: Synthesized) -> list[dict[str, Any]]:
    roles = resources(stage, "AWS::IAM::Role")
    task_role = next(i for i in roles if i.startswith("AppTaskRole"))
    return [
        statement
        for policy in resources(stage, "AWS::IAM::Policy").values()
        if {"Ref": task_role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _is_ecs_exec(statement: dict[str, Any]) -> bool:
    """ECS Exec's channel, audit-log and key statements (test_scaling_and_operations.py)."""
    return all(
        a.startswith(("ssmmessages:", "logs:", "kms:")) for a in _as_list(statement["Action"])
    )


def test_task_role_touches_only_this_stacks_bucket_and_queues(stage: Synthesized) -> None:
    statements = [s for s in _task_role_statements(stage) if not _is_ecs_exec(s)]
    services = {
        action.split(":")[0]
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert services == {"s3", "sqs"}
    for statement in statements:
        scoped = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        for resource in scoped:
            assert resource != "*", statement
            # Every resource is a reference into this template (GetAtt/Ref/Join over them).
            assert "Fn::GetAtt" in str(resource) or "Ref" in str(resource), statement


def test_execution_roles_read_only_this_stacks_secrets(stage: Synthesized) -> None:
    secret_ids = set(resources(stage, "AWS::SecretsManager::Secret"))
    for logical_id, policy in resources(stage, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            if any(a.startswith("secretsmanager:") for a in actions):
                assert statement["Resource"] != "*", logical_id
                assert {r["Ref"] for r in _as_list(statement["Resource"])} <= secret_ids


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_alarms_cover_5xx_unhealthy_hosts_dead_letters_and_cpu(stage: Synthesized) -> None:
    alarms = resources(stage, "AWS::CloudWatch::Alarm").values()
    metrics = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"])
        for a in alarms
        if "MetricName" in a["Properties"]  # not the worker's metric-math scaling alarms
    }
    assert {
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "UnHealthyHostCount"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/ECS", "CPUUtilization"),
    } <= metrics
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"], "every alarm notifies the alarm topic"
    service(stage).resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_log_groups_have_the_stage_retention(stage: Synthesized) -> None:
    days = {"local": 1, "dev": 7, "staging": 30, "prod": 180}[stage.stage]
    groups = resources(stage, "AWS::Logs::LogGroup").values()
    assert len(groups) == 4  # app, VPC flow logs, PostgreSQL, ECS Exec audit
    for group in groups:
        assert group["Properties"]["RetentionInDays"] == days


def test_database_is_encrypted_private_and_uses_a_generated_secret(stage: Synthesized) -> None:
    (database,) = resources(stage, "AWS::RDS::DBInstance").values()
    properties = database["Properties"]
    assert properties["StorageEncrypted"] is True
    assert properties.get("PubliclyAccessible", False) is False
    assert ":SecretString:password::" in str(properties["MasterUserPassword"])
    expected_policy = "Delete" if stage.stage in ("local", "dev") else "Snapshot"
    assert database["DeletionPolicy"] == expected_policy
    assert properties["MultiAZ"] is (stage.stage == "prod")
    # Prod's protection comes on once its first create completed (test_retryable_first_deploy.py).
    expected_protection = {"Ref": "DeletionProtection"} if stage.stage == "prod" else False
    assert properties["DeletionProtection"] == expected_protection


def test_prod_has_a_nat_gateway_per_az_and_local_none(stage: Synthesized) -> None:
    expected = {"local": 0, "dev": 0, "staging": 1, "prod": 2}[stage.stage]
    service(stage).resource_count_is("AWS::EC2::NatGateway", expected)


def test_non_secret_configuration_is_published_as_ssm_parameters(stage: Synthesized) -> None:
    names = {p["Properties"]["Name"] for p in resources(stage, "AWS::SSM::Parameter").values()}
    prefix = f"/{stage.contract.service_name}/{stage.stage}/"
    assert names == {
        prefix + name
        for name in ("attachments-bucket", "jobs-queue-url", "jobs-dlq-url", "allowed-hosts")
    }


def test_outputs_carry_what_the_app_and_tooling_need(stage: Synthesized) -> None:
    outputs = set(service(stage).find_outputs("*"))
    assert {
        *stage.contract.env_from_outputs.values(),
        "AllowedHosts",
        "Region",
        "DjangoSecretKeyArn",
        "LoadBalancerDnsName",
        "ServiceUrl",
    } <= outputs
