"""Declared secrets and schedules (`[tool.hangar.secrets]`, `[tool.hangar.schedules.<name>]`) in the
templates: every task gets each secret from Secrets Manager, never as plain environment, and only
the execution roles may read exactly those secrets; each schedule runs its command as an ECS task
through a role that may start exactly that task definition and pass exactly its two roles.

The stage is synthesized for the project declaring everything else (tests/declared_project.py)
with one of each added; cdk-nag passes on it and cfn-lint finds no error.
"""

from pathlib import Path
from typing import Any

import pytest
from declared_project import DECLARING_EVERYTHING, capacity_measured

from hangar.core.contract import ContractError, load
from hangar.core.stages import REGION
from hangar.deploy.service_access import evaluate, service_requests
from hangar_infra.config import STAGES
from hangar_infra.synthesis import Synthesized, synthesize

pytestmark = pytest.mark.infra

DECLARED = """
[tool.hangar.secrets]
STRIPE_API_KEY = "the Stripe secret key"

[tool.hangar.schedules.nightly-report]
cron = "cron(0 3 * * ? *)"
command = ["python", "manage.py", "report"]
"""
DECLARING = load(DECLARING_EVERYTHING)
SECRET_NAME = DECLARING.secret_name("dev", "STRIPE_API_KEY")
SCHEDULE_COMMAND = ["python", "manage.py", "report"]


def declaring(tmp_path: Path, tables: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(DECLARING_EVERYTHING.read_text() + tables)
    return path


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    project = declaring(tmp_path_factory.mktemp("declared"), DECLARED)
    with capacity_measured():
        return synthesize("dev", tmp_path_factory.mktemp("cdk-declared"), service=load(project))


@pytest.fixture(scope="module")
def resources(dev: Synthesized) -> dict[str, dict[str, Any]]:
    assert dev.error is None, dev.error
    found: dict[str, dict[str, Any]] = dev.template("service")["Resources"]
    return found


def of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in resources.items() if value["Type"] == kind}


def flat(value: object) -> str:
    """A CloudFormation value (string or Fn::Join) as text, references as `{Ref}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flat(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "{" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "{" + ".".join(value["Fn::GetAtt"]) + "}"
    return repr(value)


def statements_naming(
    resources: dict[str, dict[str, Any]], text: str
) -> dict[str, list[dict[str, Any]]]:
    """The policy statements whose resources mention `text`, by the role they are attached to."""
    found: dict[str, list[dict[str, Any]]] = {}
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            targets = statement["Resource"]
            targets = targets if isinstance(targets, list) else [targets]
            if any(text in flat(target) for target in targets):
                for role in policy["Properties"]["Roles"]:
                    found.setdefault(role["Ref"], []).append(statement)
    return found


def test_the_stage_with_declarations_passes_cdk_nag_and_cfn_lint(dev: Synthesized) -> None:
    assert dev.error is None, dev.error
    assert dev.cfn_lint_errors() == []


def test_every_task_gets_the_secret_from_secrets_manager(
    resources: dict[str, dict[str, Any]],
) -> None:
    task_definitions = of_type(resources, "AWS::ECS::TaskDefinition")
    # web, worker, migration and the scheduled command
    assert len(task_definitions) == 4
    for task_definition in task_definitions.values():
        (container,) = task_definition["Properties"]["ContainerDefinitions"]
        secrets = {s["Name"]: flat(s["ValueFrom"]) for s in container["Secrets"]}
        assert secrets["STRIPE_API_KEY"].endswith(f":secret:{SECRET_NAME}")
        environment = {e["Name"] for e in container.get("Environment", [])}
        assert "STRIPE_API_KEY" not in environment


def test_only_the_execution_roles_may_read_exactly_that_secret(
    resources: dict[str, dict[str, Any]],
) -> None:
    readers = statements_naming(resources, SECRET_NAME)
    execution_roles = {
        task_definition["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
        for task_definition in of_type(resources, "AWS::ECS::TaskDefinition").values()
    }
    task_roles = {
        task_definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
        for task_definition in of_type(resources, "AWS::ECS::TaskDefinition").values()
    }
    assert set(readers) == execution_roles
    assert not task_roles & set(readers)
    for statements in readers.values():
        (statement,) = statements
        assert sorted(statement["Action"]) == [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
        ]
        # Exactly that secret: its name and Secrets Manager's six-character suffix.
        assert flat(statement["Resource"]).endswith(f":secret:{SECRET_NAME}-??????")


def test_the_schedule_runs_its_command_as_a_task_on_the_cluster(
    resources: dict[str, dict[str, Any]],
) -> None:
    (schedule,) = of_type(resources, "AWS::Scheduler::Schedule").values()
    properties = schedule["Properties"]
    assert properties["Name"] == f"{DECLARING.resource_prefix('dev')}-nightly-report"
    assert properties["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert properties["ScheduleExpressionTimezone"] == "UTC"
    target = properties["Target"]
    (cluster,) = of_type(resources, "AWS::ECS::Cluster")
    assert target["Arn"] == {"Fn::GetAtt": [cluster, "Arn"]}
    task_definition = target["EcsParameters"]["TaskDefinitionArn"]["Ref"]
    (container,) = resources[task_definition]["Properties"]["ContainerDefinitions"]
    assert container["Command"] == SCHEDULE_COMMAND
    network = target["EcsParameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    (security_group,) = network["SecurityGroups"]
    database_ingress = [
        rule["Properties"]
        for rule in of_type(resources, "AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"].get("SourceSecurityGroupId")
        == {"Fn::GetAtt": [security_group["Fn::GetAtt"][0], "GroupId"]}
    ]
    (database,) = of_type(resources, "AWS::RDS::DBInstance")
    assert [rule["FromPort"] for rule in database_ingress] == [
        {"Fn::GetAtt": [database, "Endpoint.Port"]}
    ]


def test_the_schedules_role_may_start_exactly_its_task_and_pass_exactly_its_roles(
    resources: dict[str, dict[str, Any]],
) -> None:
    (schedule,) = of_type(resources, "AWS::Scheduler::Schedule").values()
    target = schedule["Properties"]["Target"]
    role = target["RoleArn"]["Fn::GetAtt"][0]
    trust = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    task_definition = resources[target["EcsParameters"]["TaskDefinitionArn"]["Ref"]]
    (cluster,) = of_type(resources, "AWS::ECS::Cluster")
    statements = [
        statement
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {
            "Action": "ecs:RunTask",
            "Condition": {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster, "Arn"]}}},
            "Effect": "Allow",
            "Resource": target["EcsParameters"]["TaskDefinitionArn"],
        },
        {
            "Action": "iam:PassRole",
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": [
                task_definition["Properties"]["TaskRoleArn"],
                task_definition["Properties"]["ExecutionRoleArn"],
            ],
        },
    ]


def test_the_scheduler_may_start_the_task_as_aws_evaluates_the_roles_policies(
    dev: Synthesized,
) -> None:
    """The statements above, decided by the IAM simulator as AWS decides EventBridge Scheduler's
    requests (tests/unit/test_service_access_paths.py proves each limit refuses a violation)."""
    account = STAGES["dev"].account or "123456789012"
    found = service_requests(
        dev.template("service"), account=account, region=REGION, elb_account="127311923021"
    )
    decided = [
        (access.request.request.action, decision.decision)
        for access, decision in evaluate(found, account=account)
        if access.request.principal == "scheduler.amazonaws.com"
        or ":role/" in access.request.principal
    ]
    assert decided == [
        ("sts:AssumeRole", "Allowed"),
        ("ecs:RunTask", "Allowed"),
        ("iam:PassRole", "Allowed"),
        ("iam:PassRole", "Allowed"),
    ]


def test_the_local_stage_has_the_secret_but_no_schedule(tmp_path: Path) -> None:
    """LocalStack runs no ECS task (`make schedule` runs the command by hand there)."""
    with capacity_measured():
        local = synthesize("local", tmp_path / "cdk", service=load(declaring(tmp_path, DECLARED)))
    assert local.error is None, local.error
    resources = local.template("service")["Resources"]
    assert of_type(resources, "AWS::Scheduler::Schedule") == {}
    assert len(of_type(resources, "AWS::ECS::TaskDefinition")) == 3
    assert statements_naming(resources, DECLARING.secret_name("local", "STRIPE_API_KEY"))


def test_a_secret_may_not_hide_a_variable_the_platform_sets(tmp_path: Path) -> None:
    project = declaring(tmp_path, '[tool.hangar.secrets]\nDB_PASSWORD = "mine"\n')
    refused = r"declares DB_PASSWORD, which the platform sets"
    with capacity_measured(), pytest.raises(ContractError, match=refused):
        synthesize("dev", tmp_path / "cdk", service=load(project))
