"""The contract ([tool.hangar]) decides what the templates name and run: the service name names
every resource, the worker exists only when the contract has a worker command, the container port
and health path reach the load balancer, the tasks and the security groups, and the app's
environment is the contract's mapping onto the stack's outputs.

Each test synthesizes with a contract other than the checkout's (hangar_infra takes it as a
parameter) and compares with the checkout's templates.
"""

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template
from cdk_synth import VARIANTS, Synthesized, synthesize

from hangar.core.contract import ContractError, contract

pytestmark = pytest.mark.infra

RENAMED = "notes"
WORKERLESS_VARIANTS = ("local", "prod+https")


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


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    service = replace(contract(), service_name=RENAMED)
    return {
        name: synthesize(stage, tmp_path_factory.mktemp(f"notes-{stage}"), certificate, service)
        for name, (stage, certificate) in VARIANTS.items()
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_renaming_the_service_renames_every_resource_and_changes_nothing_else(
    variant: str, synthesized: dict[str, Synthesized], renamed: dict[str, Synthesized]
) -> None:
    original = synthesized[variant]
    assert RENAMED not in templates(original)
    renamed_text = templates(renamed[variant])
    assert "hangar" not in renamed_text.lower()
    assert json.loads(templates(original).replace(contract().service_name, RENAMED)) == (
        json.loads(renamed_text)
    )


@pytest.fixture(scope="module")
def workerless(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """The smallest and the largest stage, for an app without a worker."""
    service = replace(contract(), worker_command=None)
    return {
        name: synthesize(stage, tmp_path_factory.mktemp(f"no-worker-{stage}"), certificate, service)
        for name, (stage, certificate) in VARIANTS.items()
        if name in WORKERLESS_VARIANTS
    }


def resources(stage: Synthesized) -> dict[str, dict[str, Any]]:
    return stage.template("service")["Resources"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("variant", WORKERLESS_VARIANTS)
def test_a_contract_without_worker_synthesizes_no_worker(
    variant: str, synthesized: dict[str, Synthesized], workerless: dict[str, Synthesized]
) -> None:
    with_worker = resources(synthesized[variant])
    without = resources(workerless[variant])
    worker_parts = {logical_id for logical_id in with_worker if "Worker" in logical_id}
    # The worker's service, task definition, roles, logs, security group, database access,
    # scaling target and policy, and CPU alarm: all named Worker…, and all gone.
    kinds = {with_worker[logical_id]["Type"] for logical_id in worker_parts}
    assert {
        "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition",
        "AWS::EC2::SecurityGroup",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::CloudWatch::Alarm",
    } <= kinds
    assert set(without) == set(with_worker) - worker_parts
    template = Template.from_json(workerless[variant].template("service"))
    template.resource_count_is("AWS::ECS::Service", 1)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 1)
    template.resource_count_is("AWS::SQS::Queue", 2)  # the queue stays: the app may still send
    assert "WorkerServiceName" not in template.find_outputs("*")
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    assert "Worker" not in json.dumps(dashboard)
    assert "Worker" in json.dumps(
        next(r for r in with_worker.values() if r["Type"] == "AWS::CloudWatch::Dashboard")
    )


@pytest.mark.parametrize("variant", WORKERLESS_VARIANTS)
def test_a_contract_without_worker_passes_cdk_nag_and_cfn_lint(
    variant: str, workerless: dict[str, Synthesized]
) -> None:
    stage = workerless[variant]
    assert stage.error is None, f"synth (with cdk-nag) failed: {stage.error}"
    errors = stage.cfn_lint_errors()
    assert errors == [], "\n".join(errors)


def test_the_worker_runs_the_contracts_command(tmp_path: Path) -> None:
    service = replace(contract(), worker_command=("celery", "-A", "config", "worker"))
    template = Template.from_json(
        synthesize("local", tmp_path, service=service).template("service")
    )
    commands = [
        task["Properties"]["ContainerDefinitions"][0].get("Command")
        for task in template.find_resources("AWS::ECS::TaskDefinition").values()
    ]
    assert ["celery", "-A", "config", "worker"] in commands


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


def test_the_apps_environment_is_the_contracts_mapping_of_the_outputs(tmp_path: Path) -> None:
    service = replace(contract(), settings_from_outputs={"NOTES_BUCKET": "DocumentsBucketName"})
    template = synthesize("local", tmp_path, service=service).template("service")
    bucket_output = template["Outputs"]["DocumentsBucketName"]["Value"]
    for task in Template.from_json(template).find_resources("AWS::ECS::TaskDefinition").values():
        environment = {
            variable["Name"]: variable["Value"]
            for variable in task["Properties"]["ContainerDefinitions"][0]["Environment"]
        }
        assert environment["NOTES_BUCKET"] == bucket_output
        assert not set(contract().settings_from_outputs) & set(environment)


def test_a_setting_from_an_output_the_stack_lacks_is_refused(tmp_path: Path) -> None:
    service = replace(contract(), settings_from_outputs={"NOTES_BUCKET": "NotesBucketName"})
    with pytest.raises(ContractError, match="'NotesBucketName', which the service stack does not"):
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
