"""The contract ([tool.hangar]) decides what the templates name and run: the service name names
every resource; the stack creates exactly the buckets, queues, workers and WAF upload exceptions
the app declares (none for a project declaring none, one each for two); the container port and
health path reach the load balancer, the tasks and the security groups; and the app's environment
is its declared resources' variables and its stage's plain environment.

Each test synthesizes with a contract other than the checkout's (hangar_infra takes it as a
parameter), some compare with the templates of the project declaring everything (`synthesized`).
"""

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from declared_project import capacity_measured, declaring_everything

from hangar.core.contract import Bucket, Contract, ContractError, Queue, contract
from hangar_infra.synthesis import VARIANTS, Synthesized, synthesize

pytestmark = pytest.mark.infra

RENAMED = "notes"


def templates(stage: Synthesized) -> str:
    """Both stacks' templates as one text, normalized for what legitimately differs besides the
    names themselves:

    - CDK names a few things after their construct path, which starts with the Stage
      (`<service>-<stage>`): task definition families, scaling policy names, the logical ids of
      security-group rules between two groups. Those end in a hash of the path (8 hex digits),
      which therefore differs too; it is masked.
    - The CDK bootstrap qualifier (infra/cdk.json, shared with `hangar bootstrap-aws`) names the
      account's bootstrap, not a resource of the service; it is masked as well.
    """
    from hangar_infra.config import STAGES

    text = json.dumps([stage.template("registry"), stage.template("service")], sort_keys=True)
    path = re.escape(f"{stage.contract.service_name}{stage.stage}Service")
    text = re.sub(rf"\b\w*{path}\w*\b", lambda token: _mask_hashes(token[0]), text)
    return text.replace(STAGES[stage.stage].cdk_qualifier, "<cdk-qualifier>")


def _mask_hashes(name: str) -> str:
    """`…SecurityGroup6A247EA58000C1B6133B` → `…SecurityGroup<hash>8000<hash>`: the name's own
    hash ends it; a referenced construct's follows a word (a port may come between)."""
    name = re.sub(r"[0-9A-F]{8}$", "<hash>", name)
    return re.sub(r"(?<=[a-z])[0-9A-F]{8}", "<hash>", name)


# The smallest stage and the largest (HTTPS, the web firewall, NAT per zone): what the other stages
# build lies between, and each stage synthesized costs the infra layer seconds of CPU.
RENAMED_VARIANTS = ("local", "prod+https")


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    service = replace(declaring_everything(), service_name=RENAMED)
    with capacity_measured():
        return {
            name: synthesize(stage, tmp_path_factory.mktemp(f"notes-{stage}"), certificate, service)
            for name, (stage, certificate) in VARIANTS.items()
            if name in RENAMED_VARIANTS
        }


@pytest.mark.parametrize("variant", RENAMED_VARIANTS)
def test_renaming_the_service_renames_every_resource_and_changes_nothing_else(
    variant: str, synthesized: dict[str, Synthesized], renamed: dict[str, Synthesized]
) -> None:
    original = synthesized[variant]
    assert RENAMED not in templates(original)
    renamed_text = templates(renamed[variant])
    assert "hangar" not in renamed_text.lower()
    assert json.loads(templates(original).replace(original.contract.service_name, RENAMED)) == (
        json.loads(renamed_text)
    )


# What a project declaring no bucket, queue, worker or upload path gets (docs/adopting.md):
# the smallest and the largest stage (prod has the web firewall).
BARE_VARIANTS = ("local", "prod+https")
PROD = "prod+https"


def declaring_nothing() -> Contract:
    return replace(contract(), buckets=(), queues=(), upload_paths=(), capacity_path=None)


def declaring_two_of_each() -> Contract:
    return replace(
        contract(),
        buckets=(Bucket("uploads", "UPLOADS_BUCKET"), Bucket("avatars", "AVATARS_BUCKET")),
        queues=(
            Queue("jobs", "JOBS_QUEUE_URL", "JOBS_DLQ_URL", ("python", "manage.py", "run_jobs")),
            Queue("emails", "EMAIL_QUEUE_URL", None, ("python", "manage.py", "send_emails")),
        ),
        upload_paths=("/avatars/",),
    )


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    return {
        name: synthesize(
            stage, tmp_path_factory.mktemp(f"bare-{stage}"), certificate, declaring_nothing()
        )
        for name, (stage, certificate) in VARIANTS.items()
        if name in BARE_VARIANTS
    }


@pytest.fixture(scope="module")
def two_of_each(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    stage, certificate = VARIANTS[PROD]
    return synthesize(stage, tmp_path_factory.mktemp("two"), certificate, declaring_two_of_each())


def resources(stage: Synthesized) -> dict[str, dict[str, Any]]:
    return stage.template("service")["Resources"]  # type: ignore[no-any-return]


def environments(stage: Synthesized) -> list[dict[str, Any]]:
    """Each task definition's plain environment, by variable."""
    return [
        {
            v["Name"]: v["Value"]
            for v in task["Properties"]["ContainerDefinitions"][0]["Environment"]
        }
        for task in resources(stage).values()
        if task["Type"] == "AWS::ECS::TaskDefinition"
    ]


def of_type(stage: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {i: r for i, r in resources(stage).items() if r["Type"] == kind}


@pytest.mark.parametrize("variant", BARE_VARIANTS)
def test_a_contract_declaring_nothing_gets_no_bucket_queue_or_worker(
    variant: str, bare: dict[str, Synthesized]
) -> None:
    stage = bare[variant]
    # The only bucket is the platform's access-log bucket (the load balancer writes to it).
    (logs,) = of_type(stage, "AWS::S3::Bucket")
    assert logs.startswith("StorageAccessLogs")
    assert of_type(stage, "AWS::SQS::Queue") == {}
    (web,) = of_type(stage, "AWS::ECS::Service")
    assert web.startswith("WebService")
    assert not [i for i in resources(stage) if "Worker" in i]
    template = Template.from_json(stage.template("service"))
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 1)
    outputs = set(template.find_outputs("*"))
    assert not {
        o for o in outputs if o.endswith(("BucketName", "QueueUrl", "DlqUrl", "WorkerServiceName"))
    }
    for environment in environments(stage):
        assert not set(declaring_everything().env_from_outputs) & set(environment)
    names = {p["Properties"]["Name"] for p in of_type(stage, "AWS::SSM::Parameter").values()}
    assert names == {f"/{stage.contract.service_name}/{stage.stage}/allowed-hosts"}


@pytest.mark.parametrize("variant", BARE_VARIANTS)
def test_a_contract_declaring_nothing_gets_no_queue_alarm_graph_or_grant(
    variant: str, bare: dict[str, Synthesized]
) -> None:
    stage = bare[variant]
    alarms = json.dumps(of_type(stage, "AWS::CloudWatch::Alarm"))
    assert "dead-letter" not in alarms
    assert "AWS/SQS" not in alarms
    (dashboard,) = of_type(stage, "AWS::CloudWatch::Dashboard").values()
    assert "AWS/SQS" not in json.dumps(dashboard)
    assert "Worker" not in json.dumps(dashboard)
    granted = json.dumps(
        [p for i, p in of_type(stage, "AWS::IAM::Policy").items() if i.startswith("AppTaskRole")]
    )
    assert '"s3:' not in granted
    assert '"sqs:' not in granted


def test_a_contract_declaring_no_upload_path_gets_no_waf_exception(
    bare: dict[str, Synthesized],
) -> None:
    (acl,) = of_type(bare[PROD], "AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    # The managed groups block with every rule, body rules too; no rule of ours exempts a path.
    assert "BodyRulesOutsideUploads" not in rules
    for rule in rules.values():
        managed = rule["Statement"].get("ManagedRuleGroupStatement", {})
        assert "RuleActionOverrides" not in managed
    assert "ByteMatchStatement" not in json.dumps(acl)


def test_a_contract_naming_no_capacity_page_scales_the_web_on_cpu_alone(
    bare: dict[str, Synthesized],
) -> None:
    (policy,) = of_type(bare[PROD], "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    tracking = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    metric = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
    assert metric == "ECSServiceAverageCPUUtilization"


@pytest.mark.parametrize("variant", BARE_VARIANTS)
def test_a_contract_declaring_nothing_passes_cdk_nag_and_cfn_lint(
    variant: str, bare: dict[str, Synthesized]
) -> None:
    stage = bare[variant]
    assert stage.error is None, f"synth (with cdk-nag) failed: {stage.error}"
    errors = stage.cfn_lint_errors()
    assert errors == [], "\n".join(errors)


def test_two_queues_get_a_queue_dead_letter_queue_and_worker_each(two_of_each: Synthesized) -> None:
    assert two_of_each.error is None, f"synth (with cdk-nag) failed: {two_of_each.error}"
    assert two_of_each.cfn_lint_errors() == []
    queues = of_type(two_of_each, "AWS::SQS::Queue")
    assert sorted(i[:-8] for i in queues) == [
        "QueueEmails",
        "QueueEmailsDeadLetters",
        "QueueJobs",
        "QueueJobsDeadLetters",
    ]
    commands = sorted(
        str(task["Properties"]["ContainerDefinitions"][0].get("Command"))
        for task in of_type(two_of_each, "AWS::ECS::TaskDefinition").values()
    )
    assert "['python', 'manage.py', 'send_emails']" in commands
    assert "['python', 'manage.py', 'run_jobs']" in commands
    services = sorted(i[:-8] for i in of_type(two_of_each, "AWS::ECS::Service"))
    assert services == ["EmailsWorkerService", "JobsWorkerService", "WebService"]
    outputs = Template.from_json(two_of_each.template("service")).find_outputs("*")
    assert {"EmailsWorkerServiceName", "JobsWorkerServiceName", "EmailsQueueUrl"} <= set(outputs)
    # No dlq-env: the emails DLQ exists (and is alarmed on) but the app is not given its URL.
    assert "EmailsDlqUrl" not in outputs
    dead_letter_alarms = [
        a for a in of_type(two_of_each, "AWS::CloudWatch::Alarm") if "DeadLettersNotEmpty" in a
    ]
    assert sorted(a[:-8] for a in dead_letter_alarms) == [
        "MonitoringEmailsDeadLettersNotEmpty",
        "MonitoringJobsDeadLettersNotEmpty",
    ]


def test_every_declared_resource_reaches_every_task_by_its_declared_variable(
    two_of_each: Synthesized,
) -> None:
    outputs = two_of_each.template("service")["Outputs"]
    declared = declaring_two_of_each().env_from_outputs
    assert set(declared) == {
        "UPLOADS_BUCKET",
        "AVATARS_BUCKET",
        "JOBS_QUEUE_URL",
        "JOBS_DLQ_URL",
        "EMAIL_QUEUE_URL",
    }
    for environment in environments(two_of_each):
        for variable, output in declared.items():
            assert environment[variable] == outputs[output]["Value"]


def test_the_task_role_reaches_the_declared_resources_and_no_unnamed_dlq(
    two_of_each: Synthesized,
) -> None:
    granted = json.dumps(
        [
            p
            for i, p in of_type(two_of_each, "AWS::IAM::Policy").items()
            if i.startswith("AppTaskRole")
        ]
    )
    for logical_id in (
        *of_type(two_of_each, "AWS::S3::Bucket"),
        *of_type(two_of_each, "AWS::SQS::Queue"),
    ):
        reachable = not logical_id.startswith(("StorageAccessLogs", "QueueEmailsDeadLetters"))
        assert (f'"{logical_id}"' in granted) == reachable, logical_id


def test_the_waf_exempts_exactly_the_declared_upload_paths(two_of_each: Synthesized) -> None:
    (acl,) = of_type(two_of_each, "AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    _, *not_uploads = rules["BodyRulesOutsideUploads"]["Statement"]["AndStatement"]["Statements"]
    exempt = [
        s["NotStatement"]["Statement"]["ByteMatchStatement"]["SearchString"] for s in not_uploads
    ]
    assert exempt == ["/avatars/"]


def test_the_worker_runs_the_contracts_command(tmp_path: Path) -> None:
    worker = ("celery", "-A", "jobs", "worker")
    service = replace(contract(), queues=(Queue("jobs", "JOBS_QUEUE_URL", None, worker),))
    template = Template.from_json(
        synthesize("local", tmp_path, service=service).template("service")
    )
    commands = [
        task["Properties"]["ContainerDefinitions"][0].get("Command")
        for task in template.find_resources("AWS::ECS::TaskDefinition").values()
    ]
    assert list(worker) in commands


@pytest.fixture(scope="module")
def other_port(tmp_path_factory: pytest.TempPathFactory) -> Template:
    service = replace(contract(), container_port=9123, health_path="/-/alive")
    stage = synthesize("dev", tmp_path_factory.mktemp("port"), service=service)
    assert stage.error is None
    return Template.from_json(stage.template("service"))


def test_the_container_port_and_health_path_reach_the_target_group(other_port: Template) -> None:
    (group,) = other_port.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert group["Properties"]["Port"] == 9123
    assert group["Properties"]["HealthCheckPath"] == "/-/alive"


def test_the_container_port_reaches_the_web_task_definition(other_port: Template) -> None:
    mappings = [
        container.get("PortMappings")
        for task in other_port.find_resources("AWS::ECS::TaskDefinition").values()
        for container in task["Properties"]["ContainerDefinitions"]
    ]
    assert [m for m in mappings if m] == [[{"ContainerPort": 9123, "Protocol": "tcp"}]]


def test_the_container_port_is_what_the_security_groups_open(other_port: Template) -> None:
    ingress = other_port.find_resources("AWS::EC2::SecurityGroupIngress")
    # The web tasks admit the load balancer on the container port, and nothing else.
    to_web = [
        rule["Properties"]
        for logical_id, rule in ingress.items()
        if logical_id.startswith("WebSecurityGroup")
    ]
    assert [(r["FromPort"], r["ToPort"]) for r in to_web] == [(9123, 9123)]
    (source,) = (r["SourceSecurityGroupId"]["Fn::GetAtt"][0] for r in to_web)
    assert source.startswith("LoadBalancerSecurityGroup")


def test_the_health_path_names_the_unhealthy_hosts_alarm(other_port: Template) -> None:
    alarms = other_port.find_resources("AWS::CloudWatch::Alarm")
    assert any(
        "/-/alive" in alarm["Properties"].get("AlarmDescription", "") for alarm in alarms.values()
    )


def test_the_stages_plain_environment_reaches_its_tasks_only(tmp_path: Path) -> None:
    service = replace(
        contract(), stage_env={"local": {"FEATURE_FLAGS": "billing"}, "prod": {"X": "y"}}
    )
    for environment in environments(synthesize("local", tmp_path, service=service)):
        assert environment["FEATURE_FLAGS"] == "billing"
        assert "X" not in environment


@pytest.mark.parametrize(
    ("stage_env", "refused"),
    [
        (
            {"local": {"DJANGO_ALLOWED_HOSTS": "*"}},
            "[tool.hangar.env.local] sets DJANGO_ALLOWED_HOSTS",
        ),
        ({"local": {"DB_PASSWORD": "x"}}, "[tool.hangar.env.local] sets DB_PASSWORD"),
        ({"prd": {"A": "b"}}, "[tool.hangar.env.prd] names no stage"),
    ],
)
def test_a_stage_environment_the_platform_owns_or_no_stage_has_is_refused(
    tmp_path: Path, stage_env: dict[str, dict[str, str]], refused: str
) -> None:
    service = replace(contract(), stage_env=stage_env)
    with pytest.raises(ContractError, match=re.escape(refused)):
        synthesize("local", tmp_path, service=service)


def test_a_hyphenated_service_name_gives_a_valid_postgresql_database_and_owner(
    tmp_path: Path,
) -> None:
    service = replace(contract(), service_name="my-notes")
    template = Template.from_json(
        synthesize("local", tmp_path, service=service).template("service")
    )
    (instance,) = template.find_resources("AWS::RDS::DBInstance").values()
    assert instance["Properties"]["DBName"] == "mynotes"
    assert instance["Properties"]["DBInstanceIdentifier"] == "my-notes-local-postgres"
    owner = {"GenerateSecretString": {"SecretStringTemplate": '{"username":"mynotes"}'}}
    template.resource_properties_count_is("AWS::SecretsManager::Secret", owner, 1)
