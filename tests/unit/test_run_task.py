"""The pure parts of `hangar run-task`: CloudFormation values, ECS secrets, local overrides."""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import pytest

from hangar.core import ports
from hangar.core.errors import HangarError
from hangar.deploy import run_task, task_definition, task_docker, task_environment
from hangar.deploy.cfn_values import (
    DeployedResource,
    DeployedStack,
    ParameterSource,
    Resolver,
    SecretsManagerSource,
    attributes_from_outputs,
    json_key_value,
    parse_value_from,
)

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:hangar-db-AbCdEf"
ALB = "LoadBalancerAlb240B1141"
QUEUE_URL = "http://localstack:4566/queue/us-east-1/000000000000/tasks"


@pytest.fixture
def stack() -> DeployedStack:
    return DeployedStack(
        name="hangar-local-service",
        resources={
            "Uploads": DeployedResource("AWS::S3::Bucket", "uploads-bucket-1"),
            "Tasks": DeployedResource("AWS::SQS::Queue", QUEUE_URL),
            "DbSecret": DeployedResource("AWS::SecretsManager::Secret", SECRET_ARN),
            "Logs": DeployedResource("AWS::Logs::LogGroup", "/hangar/local/app"),
            ALB: DeployedResource("AWS::ElasticLoadBalancingV2::LoadBalancer", "unknown"),
            "Cluster": DeployedResource("AWS::ECS::Cluster", "unknown"),
        },
        attributes={("Logs", "Arn"): "arn:aws:logs:us-east-1:000000000000:log-group:/hangar"},
        exports={"registry:RepositoryName": "hangar-local"},
        pseudo_parameters={"AWS::Region": "us-east-1", "AWS::URLSuffix": "amazonaws.com"},
    )


# --- intrinsic functions -----------------------------------------------------------------------


def test_ref_is_the_deployed_physical_id(stack: DeployedStack) -> None:
    resolution = Resolver(stack).resolve({"Ref": "Tasks"})
    assert resolution.value == QUEUE_URL
    assert resolution.sources == ["Ref Tasks (AWS::SQS::Queue)"]
    assert resolution.substitutions == []


def test_ref_of_a_pseudo_parameter(stack: DeployedStack) -> None:
    assert Resolver(stack).resolve({"Ref": "AWS::Region"}).value == "us-east-1"


def test_get_att_comes_from_the_matching_stack_output(stack: DeployedStack) -> None:
    value = Resolver(stack).resolve({"Fn::GetAtt": ["Logs", "Arn"]}).value
    assert value == "arn:aws:logs:us-east-1:000000000000:log-group:/hangar"
    assert Resolver(stack).resolve({"Fn::GetAtt": "Logs.Arn"}).value == value


def test_get_att_without_an_output_names_the_fix(stack: DeployedStack) -> None:
    with pytest.raises(HangarError, match=r"Uploads\.Arn has no known value") as raised:
        Resolver(stack).resolve({"Fn::GetAtt": ["Uploads", "Arn"]})
    assert "CfnOutput" in (raised.value.hint or "")


def test_join_of_an_alb_placeholder_says_what_was_substituted(stack: DeployedStack) -> None:
    expression = {"Fn::Join": [",", [{"Fn::GetAtt": [ALB, "DNSName"]}, "localhost,127.0.0.1"]]}
    resolution = Resolver(stack).resolve(expression)
    assert resolution.value == "loadbalanceralb240b1141-dnsname.invalid,localhost,127.0.0.1"
    assert len(resolution.substitutions) == 1
    assert (
        "does not emulate AWS::ElasticLoadBalancingV2::LoadBalancer"
        in (resolution.substitutions[0])
    )
    assert "unknown" not in resolution.value


def test_ref_of_a_not_emulated_resource_is_a_placeholder_not_unknown(
    stack: DeployedStack,
) -> None:
    resolution = Resolver(stack).resolve({"Ref": "Cluster"})
    assert resolution.value == "cluster.invalid"
    assert resolution.substitutions


def test_join_builds_a_secret_value_from_with_a_json_key(stack: DeployedStack) -> None:
    value_from = Resolver(stack).resolve({"Fn::Join": ["", [{"Ref": "DbSecret"}, ":host::"]]})
    assert value_from.value == f"{SECRET_ARN}:host::"


def test_select_split_import_value_and_sub_as_cdk_writes_an_image_uri(
    stack: DeployedStack,
) -> None:
    repository = {"Fn::ImportValue": "registry:RepositoryName"}
    uri = ".dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${Name}:${!tag}"
    expression = {
        "Fn::Join": [
            "",
            [
                {"Fn::Select": [0, {"Fn::Split": ["-", repository]}]},
                {"Fn::Sub": [uri, {"Name": repository}]},
            ],
        ]
    }
    value = Resolver(stack).resolve(expression).value
    assert value == "hangar.dkr.ecr.us-east-1.amazonaws.com/hangar-local:${tag}"


def test_a_resource_missing_from_the_deployment_asks_for_a_deploy(stack: DeployedStack) -> None:
    with pytest.raises(HangarError, match="NewQueue is not a resource") as raised:
        Resolver(stack).resolve({"Ref": "NewQueue"})
    assert raised.value.hint is not None
    assert "make deploy-local" in raised.value.hint


def test_an_unknown_export_and_an_unsupported_function_fail_clearly(
    stack: DeployedStack,
) -> None:
    with pytest.raises(HangarError, match="no stack exports 'other:Name'"):
        Resolver(stack).resolve({"Fn::ImportValue": "other:Name"})
    with pytest.raises(HangarError, match="Fn::If"):
        Resolver(stack).resolve({"Fn::If": ["Cond", "a", "b"]})


def test_attributes_from_outputs_only_takes_whole_get_att_outputs() -> None:
    template_outputs = {
        "Dns": {"Value": {"Fn::GetAtt": [ALB, "DNSName"]}},
        "Url": {"Value": {"Fn::Join": ["", ["http://", {"Fn::GetAtt": [ALB, "DNSName"]}]]}},
        "Endpoint": {"Value": {"Fn::GetAtt": "Db.Endpoint.Address"}},
        "NotDeployed": {"Value": {"Fn::GetAtt": ["X", "Arn"]}},
    }
    deployed = {"Dns": "unknown", "Url": "http://unknown", "Endpoint": "db.local"}
    assert attributes_from_outputs(template_outputs, deployed) == {
        (ALB, "DNSName"): "unknown",
        ("Db", "Endpoint.Address"): "db.local",
    }


# --- ECS secret references ---------------------------------------------------------------------


def test_a_whole_secret_by_arn() -> None:
    assert parse_value_from(SECRET_ARN) == SecretsManagerSource(SECRET_ARN)


def test_a_json_key_of_a_secret() -> None:
    assert parse_value_from(f"{SECRET_ARN}:password::") == SecretsManagerSource(
        SECRET_ARN, json_key="password"
    )


def test_version_stage_and_id_after_the_json_key() -> None:
    parsed = parse_value_from(f"{SECRET_ARN}:username:AWSPREVIOUS:v-123")
    assert parsed == SecretsManagerSource(
        SECRET_ARN, json_key="username", version_stage="AWSPREVIOUS", version_id="v-123"
    )
    assert parse_value_from(f"{SECRET_ARN}::AWSCURRENT:") == SecretsManagerSource(
        SECRET_ARN, version_stage="AWSCURRENT"
    )


def test_ssm_parameters_by_arn_or_name() -> None:
    arn = "arn:aws:ssm:us-east-1:000000000000:parameter/hangar/local/uploads-bucket"
    assert parse_value_from(arn) == ParameterSource(arn)
    assert parse_value_from("/hangar/local/uploads-bucket") == ParameterSource(
        "/hangar/local/uploads-bucket"
    )


@pytest.mark.parametrize(
    "value_from",
    [
        "",
        "arn:aws:s3:::bucket",
        "arn:aws:secretsmanager:us-east-1:000000000000:secret",
        f"{SECRET_ARN}:key:stage:id:extra",
    ],
)
def test_invalid_value_from_is_rejected(value_from: str) -> None:
    with pytest.raises(HangarError):
        parse_value_from(value_from)


def test_json_key_values_are_injected_as_ecs_does() -> None:
    document = json.dumps({"host": "db.internal", "port": 5432, "flags": {"ssl": True}})
    assert json_key_value(document, "host", "s") == "db.internal"
    assert json_key_value(document, "port", "s") == "5432"
    assert json_key_value(document, "flags", "s") == '{"ssl": true}'
    with pytest.raises(HangarError, match="has no key 'dbname'"):
        json_key_value(document, "dbname", "s")
    with pytest.raises(HangarError, match="not JSON"):
        json_key_value("plain-text", "host", "s")


# --- what run-task changes locally -------------------------------------------------------------


def test_non_local_stages_are_refused_with_the_way_forward() -> None:
    with pytest.raises(HangarError, match="`local` stage only") as raised:
        run_task.check_local_stage("staging")
    assert "make deploy STAGE=staging" in (raised.value.hint or "")
    with pytest.raises(HangarError, match="unknown stage"):
        run_task.check_local_stage("qa")


def test_the_cli_refuses_a_non_local_stage_before_touching_docker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser()
    run_task.register(parser.add_subparsers())
    args = parser.parse_args(["run-task", "--stage", "prod"])
    with pytest.raises(HangarError, match="runs on ECS"):
        args.func(args)


def test_localhost_is_added_to_allowed_hosts_and_reported() -> None:
    assert task_environment.allowed_hosts("app.example.com") == (
        "app.example.com,localhost,127.0.0.1",
        ["localhost", "127.0.0.1"],
    )
    assert task_environment.allowed_hosts("x.invalid,localhost,127.0.0.1") == (
        "x.invalid,localhost,127.0.0.1",
        [],
    )


def test_a_database_url_on_this_machine_is_reached_through_the_host_gateway() -> None:
    database = task_environment.database_from_url("postgres://app:p%40ss@127.0.0.1:6543/hangar")
    assert (database.host, database.port, database.name) == (
        "host.docker.internal",
        "6543",
        "hangar",
    )
    assert (database.user, database.password) == ("app", "p@ss")
    assert database.needs_host_gateway
    remote = task_environment.database_from_url("postgresql://app:x@db.example.com/app")
    assert (remote.host, remote.port, remote.needs_host_gateway) == (
        "db.example.com",
        "5432",
        False,
    )


def test_a_database_url_that_is_not_postgres_is_refused() -> None:
    with pytest.raises(HangarError, match="postgres://"):
        task_environment.database_from_url("sqlite:////tmp/db.sqlite3")


def test_db_secrets_are_replaced_by_the_local_database_and_the_password_masked() -> None:
    database = task_environment.LocalDatabase(
        "db", "5432", "hangar", "hangar", "pw", "compose `db`"
    )
    sources = {
        name: parse_value_from(f"{SECRET_ARN}:{key}::")
        for name, key in (("DB_HOST", "host"), ("DB_PASSWORD", "password"))
    }
    variables = {v.name: v for v in task_environment.database_variables(database, sources)}
    assert {name: v.value for name, v in variables.items()} == {
        "DB_HOST": "db",
        "DB_PORT": "5432",
        "DB_NAME": "hangar",
        "DB_USER": "hangar",
        "DB_PASSWORD": "pw",
    }
    assert "instead of Secrets Manager secret hangar-db-AbCdEf key host" in (
        variables["DB_HOST"].source
    )
    assert variables["DB_PASSWORD"].secret
    assert "pw" not in run_task.table(list(variables.values()))


@pytest.mark.parametrize("task_https", [None, "true"])
def test_local_overrides_point_at_localstack_and_turn_off_https(task_https: str | None) -> None:
    spec = task_environment.ContainerSpec(command=None, container_port=8000, health_check=None)
    spec.set(task_environment.Variable("DJANGO_ALLOWED_HOSTS", "alb.invalid", "task env"))
    if task_https is not None:
        spec.set(task_environment.Variable("DJANGO_HTTPS", task_https, "task env"))
    task_environment.local_overrides(spec)
    values = {name: v.value for name, v in spec.variables.items()}
    assert values["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert values["AWS_ACCESS_KEY_ID"] == values["AWS_SECRET_ACCESS_KEY"] == "test"
    assert values["DJANGO_ALLOWED_HOSTS"] == "alb.invalid,localhost,127.0.0.1"
    assert "added localhost, 127.0.0.1" in spec.variables["DJANGO_ALLOWED_HOSTS"].source
    assert values["DJANGO_HTTPS"] == "false"
    assert spec.variables["DJANGO_HTTPS"].source.startswith("local only: nothing terminates TLS")
    assert "DJANGO_SECURE_SSL_REDIRECT" not in values


def test_an_http_only_task_keeps_its_own_django_https() -> None:
    spec = task_environment.ContainerSpec(command=None, container_port=8000, health_check=None)
    spec.set(task_environment.Variable("DJANGO_HTTPS", "false", "task env: literal"))
    task_environment.local_overrides(spec)
    assert spec.variables["DJANGO_HTTPS"] == task_environment.Variable(
        "DJANGO_HTTPS", "false", "task env: literal"
    )


def test_a_task_without_a_port_serves_no_http_and_gets_no_https_override() -> None:
    spec = task_environment.ContainerSpec(
        command=["python"], container_port=None, health_check=None
    )
    task_environment.local_overrides(spec)
    assert "DJANGO_HTTPS" not in spec.variables


def test_docker_run_keeps_values_out_of_argv_and_publishes_on_loopback_only() -> None:
    spec = task_environment.ContainerSpec(
        command=["python", "manage.py", "consume"], container_port=8000, health_check=None
    )
    spec.set(task_environment.Variable("DJANGO_SECRET_KEY", "s3cret", "secret", secret=True))
    command = task_docker.docker_run_command(
        spec, image="img", name="n", network="net", port=8123, detach=True, host_gateway=True
    )
    assert "--publish=127.0.0.1:8123:8000" in command
    assert "--env=DJANGO_SECRET_KEY" in command
    assert not any("s3cret" in argument for argument in command)
    assert "--add-host=host.docker.internal:host-gateway" in command
    assert command[-4:] == ["img", "python", "manage.py", "consume"]


def test_an_ecs_health_check_becomes_docker_health_flags() -> None:
    flags = task_docker.health_check_arguments(
        {"Command": ["CMD-SHELL", "curl -f http://localhost/healthz"], "Interval": 10, "Retries": 2}
    )
    assert flags == [
        "--health-cmd=curl -f http://localhost/healthz",
        "--health-interval=10s",
        "--health-timeout=5s",
        "--health-start-period=0s",
        "--health-retries=2",
    ]
    assert task_docker.health_check_arguments(None) == ["--no-healthcheck"]


def test_the_task_container_is_found_by_its_construct_path() -> None:
    worker = f"{task_definition.contract().worker_queues[0].id}Worker"
    template = {
        "Resources": {
            f"{worker}TaskDefinitionX": {
                "Type": "AWS::ECS::TaskDefinition",
                "Metadata": {
                    "aws:cdk:path": f"hangar-local/Service/{worker}/TaskDefinition/Resource"
                },
                "Properties": {"ContainerDefinitions": [{"Name": "app", "Command": ["w"]}]},
            }
        }
    }
    assert task_definition.task_container(template, "worker")["Command"] == ["w"]
    with pytest.raises(HangarError, match="no task definition for 'web'"):
        task_definition.task_container(template, "web")


def test_an_app_without_a_worker_has_no_worker_task_to_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_worker = dataclasses.replace(task_definition.contract(), queues=())
    monkeypatch.setattr(task_definition, "contract", lambda: no_worker)
    with pytest.raises(HangarError, match="no worker to run") as error:
        task_definition.task_container({"Resources": {}}, "worker")
    assert "worker-command" in (error.value.hint or "")


def test_the_synthesized_assembly_is_reused_only_when_newer_than_its_sources(
    tmp_path: Path,
) -> None:
    """Both the project's infra/ and the constructs' package (the second here) count."""
    sources = (tmp_path / "infra", tmp_path / "hangar_infra")
    (sources[1] / "constructs").mkdir(parents=True)
    sources[0].mkdir()
    source = sources[1] / "constructs" / "stack.py"
    source.write_text("x = 1\n")
    assembly = tmp_path / "cdk.out" / "local"
    assert not task_definition.assembly_is_current(assembly, sources)
    assembly.mkdir(parents=True)
    manifest = assembly / "manifest.json"
    manifest.write_text("{}")
    now = time.time()
    os.utime(source, (now - 10, now - 10))
    assert task_definition.assembly_is_current(assembly, sources)
    os.utime(source, (now + 10, now + 10))
    assert not task_definition.assembly_is_current(assembly, sources)


# --- migrations before the task, as deploy runs them ------------------------------------------

# A stand-in for the docker CLI (no container may be started here): it records each call, knows
# no container (`inspect` fails), and a `docker run` of the migration command exits with
# $MIGRATION_EXIT.
FAKE_DOCKER = """\
import json, os, sys
with open(os.environ["DOCKER_RECORD"], "a") as record:
    record.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["container", "inspect"]:
    sys.exit(1)
if sys.argv[1] == "run" and "migrate" in sys.argv:
    sys.exit(int(os.environ.get("MIGRATION_EXIT", "0")))
"""
MIGRATE = ["python", "manage.py", "migrate", "--noinput"]


@pytest.fixture
def docker_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the stand-in docker records its calls; run-task's preparation (LocalStack, the
    synthesized stack, the image build) is replaced by resolved specs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    docker.chmod(0o755)
    record = tmp_path / "docker-calls.jsonl"
    record.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_RECORD", str(record))
    specs = {
        "migration": task_environment.ContainerSpec(
            command=MIGRATE, container_port=None, health_check=None
        ),
        "web": task_environment.ContainerSpec(command=None, container_port=8000, health_check=None),
    }
    services = task_docker.ComposeServices("proj", "proj_default", "http://127.0.0.1:4566", True)
    database = task_environment.LocalDatabase("db", "5432", "app", "app", "pw", "compose `db`")

    def prepare(options: run_task.Options) -> object:
        return (
            {task: specs[task] for task in run_task.tasks_to_run(options.task)},
            services,
            database,
        )

    monkeypatch.setattr(run_task, "prepare", prepare)
    monkeypatch.setattr(task_docker, "ensure_runtime_image", lambda: "app-runtime:local")
    return record


def docker_runs(record: Path) -> list[list[str]]:
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return [call for call in calls if call[0] == "run"]


def test_web_runs_after_the_migration_task_has_finished(docker_calls: Path) -> None:
    options = run_task.Options(stage="local", task="web", port=ports.spare_port())

    assert run_task.run(options) == 0

    migration, web = docker_runs(docker_calls)
    assert migration[-len(MIGRATE) :] == MIGRATE
    assert "--name=proj-run-task-migration" in migration
    assert not any(argument.startswith("--publish") for argument in migration)
    assert "--name=proj-run-task-web" in web
    assert web[-1] == "app-runtime:local"


def test_a_failed_migration_stops_run_task_before_the_task_starts(
    docker_calls: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIGRATION_EXIT", "3")
    options = run_task.Options(stage="local", task="web")

    with pytest.raises(HangarError, match=r"the migration task failed \(exit 3") as raised:
        run_task.run(options)

    assert "make run-task TASK=migration" in (raised.value.hint or "")
    assert len(docker_runs(docker_calls)) == 1


def test_the_migration_task_alone_runs_once(docker_calls: Path) -> None:
    assert run_task.run(run_task.Options(stage="local", task="migration")) == 0

    (migration,) = docker_runs(docker_calls)
    assert migration[-len(MIGRATE) :] == MIGRATE
