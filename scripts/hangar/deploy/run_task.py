"""`hangar run-task --stage local`: the container ECS would run, run locally.

Reads the task definition from the synthesized service stack, resolves its environment and
secrets against the `local` stage deployed in the compose project's LocalStack (as the ECS agent
would inject them), and runs the runtime image with them on the compose network, after the
migration task (as the deploy runs it before the services). Only what cannot exist locally is
replaced (the ALB's DNS name, the RDS endpoint, AWS credentials, TLS at the ALB), and the printed
table says where every value came from.
"""

import argparse
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from hangar.cdk import driver as cdk
from hangar.core import docker_client, processes
from hangar.core.aws_clients import DEFAULT_REGION, aws_client
from hangar.core.console import info, step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import INFRA_DIR, ROOT
from hangar.core.ports import ensure_free
from hangar.deploy import stacks as infra
from hangar.deploy.cfn_values import (
    DeployedResource,
    DeployedStack,
    ParameterSource,
    Resolver,
    SecretsManagerSource,
    SecretSource,
    attributes_from_outputs,
    json_key_value,
    parse_value_from,
)
from hangar.deploy.image import build_runtime_image, runtime_build_options
from hangar.provision import docker

TASKS = ("web", "worker", "migration")
MIGRATION_TASK = "migration"


def task_construct(task: str) -> str:
    """The CDK construct that owns a task's definition (aws:cdk:path …/Service/<Name>/
    TaskDefinition): the worker is the first worker queue's (`Contract.worker_command`), named
    after that queue."""
    if task != "worker":
        return task.capitalize()
    queue = next(iter(contract().worker_queues), None)
    if queue is None:
        raise HangarError(
            "the app has no worker to run.",
            hint="declare worker-command in a [tool.hangar.queues.<name>] table (docs/adopting.md)",
        )
    return f"{queue.id}Worker"


DEFAULT_PORT = 8080  # beside `make dev`'s 8000, so both can run at once
RUN_TASK_PORT_HINT = "pick a free one: make run-task PORT=8081 (hangar run-task --port 8081)"
# Besides the Django project (`[tool.hangar] project-dir`).
IMAGE_INPUTS = ("docker/runtime", "Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock")
LOCALSTACK_SERVICE = "localstack"
DB_SERVICE = "db"
DB_PARTS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")
HOST_GATEWAY = "host.docker.internal"
LOCAL_HOSTS = ("localhost", "127.0.0.1")
START_TIMEOUT = 90.0
PSEUDO_DEFAULTS = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


@dataclass(frozen=True)
class Options:
    stage: str
    task: str = "web"
    # This checkout's (hangar.core.docker_client.compose_project), unless another is named.
    compose_project: str = field(default_factory=docker_client.compose_project)
    port: int = DEFAULT_PORT
    detach: bool = False
    database_url: str | None = None  # a PostgreSQL of the user's instead of the compose `db`


@dataclass(frozen=True)
class Variable:
    name: str
    value: str
    source: str
    secret: bool = False


@dataclass
class ContainerSpec:
    """What the task definition's first container asks for, with every value resolved."""

    command: list[str] | None
    container_port: int | None
    health_check: Mapping[str, Any] | None
    variables: dict[str, Variable] = field(default_factory=dict)

    def set(self, variable: Variable) -> None:
        self.variables[variable.name] = variable


@dataclass(frozen=True)
class ComposeServices:
    project: str
    network: str
    localstack_endpoint: str  # as this machine reaches it
    db_running: bool


@dataclass(frozen=True)
class RunningTask:
    container: str
    url: str | None


# --- preconditions -------------------------------------------------------------------------------


def check_local_stage(stage: str) -> None:
    infra.check_stage(stage)
    if stage != infra.LOCAL_STAGE:
        raise HangarError(
            f"run-task runs the `local` stage only; {stage!r} runs on ECS in AWS.",
            hint=f"deploy it with `make deploy STAGE={stage}`, or run the task locally with "
            "`make run-task` (STAGE=local)",
        )


def require_docker() -> None:
    if not docker_client.engine_responds():
        raise HangarError(
            "no Docker engine answers `docker info`; run-task runs the runtime image in Docker.",
            hint="make docker-provision",
        )


def _compose(project: str, *args: str) -> str:
    return processes.run([*docker_client.compose_command(project), *args], cwd=ROOT).stdout


def compose_services(project: str) -> ComposeServices:
    output = _compose(project, "ps", "--format", "json", "--status", "running")
    rows = [json.loads(line) for line in output.splitlines() if line.strip().startswith("{")]
    running = {row["Service"]: row for row in rows}
    localstack = running.get(LOCALSTACK_SERVICE)
    if localstack is None:
        raise HangarError(
            f"the compose project {project!r} runs no `{LOCALSTACK_SERVICE}` service; the task's "
            "container reaches LocalStack by that name on the compose network.",
            hint="start it and deploy the stage into it: `make localstack-up` (Docker mode) then "
            "`make deploy-local`, or pass --compose-project for another compose project",
        )
    published = [
        p["PublishedPort"]
        for p in localstack.get("Publishers") or []
        if p.get("TargetPort") == 4566 and p.get("PublishedPort")
    ]
    if not published:
        raise HangarError(f"the `{LOCALSTACK_SERVICE}` container publishes no port for 4566")
    return ComposeServices(
        project=project,
        network=_network_of(localstack["Name"], project),
        localstack_endpoint=f"http://127.0.0.1:{published[0]}",
        db_running=DB_SERVICE in running,
    )


def _network_of(container: str, project: str) -> str:
    inspected = processes.run(
        ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container]
    ).stdout
    networks = sorted(json.loads(inspected))
    default = f"{project}_default"
    return default if default in networks else networks[0]


def ensure_db(project: str) -> None:
    with step(f"Start the compose service `{DB_SERVICE}` (project {project})"):
        _compose(project, "up", "--detach", "--wait", DB_SERVICE)


# --- the synthesized task definition -------------------------------------------------------------


def _assembly_dir() -> Path:
    return infra.ASSEMBLY_DIR / infra.LOCAL_STAGE


def assembly_is_current(assembly: Path, sources: Path = INFRA_DIR) -> bool:
    """Newer than every CDK source (and cdk.json/context), so the synth can be reused."""
    manifest = assembly / "manifest.json"
    if not manifest.exists():
        return False
    inputs = [
        path
        for path in sources.rglob("*")
        if path.suffix in (".py", ".json") and "cdk.out" not in path.parts
    ]
    return all(path.stat().st_mtime <= manifest.stat().st_mtime for path in inputs)


def ensure_synthesized() -> Path:
    assembly = _assembly_dir()
    if assembly_is_current(assembly):
        info(f"Reusing {assembly.relative_to(ROOT)} (newer than every file in infra/)")
    else:
        infra.synth([infra.LOCAL_STAGE], image_tag="local")
    return assembly


def task_container(template: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The first container definition of the task's AWS::ECS::TaskDefinition."""
    suffix = f"/{task_construct(task)}/TaskDefinition/Resource"
    for resource in template.get("Resources", {}).values():
        path = resource.get("Metadata", {}).get("aws:cdk:path", "")
        if resource.get("Type") == "AWS::ECS::TaskDefinition" and path.endswith(suffix):
            container: dict[str, Any] = resource["Properties"]["ContainerDefinitions"][0]
            return container
    raise HangarError(
        f"the service stack has no task definition for {task!r} (no construct path ending "
        f"{suffix}).",
        hint="infra/ changed the construct names; update task_construct in run_task.py",
    )


# --- the deployed stack --------------------------------------------------------------------------


def deployed_stack(endpoint: str, stack_name: str, template: Mapping[str, Any]) -> DeployedStack:
    cloudformation = aws_client("cloudformation", region=DEFAULT_REGION, endpoint=endpoint)
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        resources = cloudformation.describe_stack_resources(StackName=stack_name)
        exports = cloudformation.list_exports()["Exports"]
    except ClientError as error:
        if "does not exist" in str(error):
            raise HangarError(
                f"the stack {stack_name} is not deployed in the LocalStack at {endpoint}.",
                hint="make deploy-local",
            ) from error
        raise
    except BotoCoreError as error:
        raise HangarError(f"LocalStack at {endpoint} does not answer: {error}") from error
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        raise HangarError(
            f"the stack {stack_name} is {stack['StackStatus']} in LocalStack.",
            hint="make deploy-local (or make destroy-local first if it keeps failing)",
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return DeployedStack(
        name=stack_name,
        resources={
            r["LogicalResourceId"]: DeployedResource(r["ResourceType"], r["PhysicalResourceId"])
            for r in resources["StackResources"]
        },
        attributes=attributes_from_outputs(template.get("Outputs", {}), outputs),
        exports={e["Name"]: e["Value"] for e in exports},
        pseudo_parameters={
            **PSEUDO_DEFAULTS,
            "AWS::Region": DEFAULT_REGION,
            "AWS::AccountId": cdk.LOCALSTACK_ACCOUNT,
            "AWS::StackName": stack_name,
            "AWS::StackId": stack["StackId"],
        },
    )


def describe_resolution(sources: Sequence[str], substitutions: Sequence[str]) -> str:
    return "; ".join([*sources, *(f"SUBSTITUTED {s}" for s in substitutions)]) or "literal"


def resolve_environment(container: Mapping[str, Any], resolver: Resolver) -> list[Variable]:
    variables = []
    for entry in container.get("Environment", []):
        resolution = resolver.resolve(entry["Value"])
        source = describe_resolution(resolution.sources, resolution.substitutions)
        variables.append(Variable(entry["Name"], resolution.value, f"task env: {source}"))
    return variables


def fetch_secret(source: SecretSource, endpoint: str) -> str:
    """The value the ECS agent would inject, read from LocalStack's Secrets Manager or SSM."""
    try:
        if isinstance(source, ParameterSource):
            ssm = aws_client("ssm", region=DEFAULT_REGION, endpoint=endpoint)
            parameter = ssm.get_parameter(Name=source.name, WithDecryption=True)["Parameter"]
            return str(parameter["Value"])
        client = aws_client("secretsmanager", region=DEFAULT_REGION, endpoint=endpoint)
        request: dict[str, str] = {"SecretId": source.secret_arn}
        if source.version_stage:
            request["VersionStage"] = source.version_stage
        if source.version_id:
            request["VersionId"] = source.version_id
        secret_string = str(client.get_secret_value(**request)["SecretString"])
    except (ClientError, BotoCoreError) as error:
        raise HangarError(
            f"cannot read {source.describe()} from LocalStack: {error}",
            hint="ECS would fail the task the same way; redeploy the stage: make deploy-local",
        ) from error
    if source.json_key:
        return json_key_value(secret_string, source.json_key, source.describe())
    return secret_string


def secret_sources(container: Mapping[str, Any], resolver: Resolver) -> dict[str, SecretSource]:
    return {
        entry["Name"]: parse_value_from(resolver.resolve(entry["ValueFrom"]).value)
        for entry in container.get("Secrets", [])
    }


# --- what is different locally -------------------------------------------------------------------


@dataclass(frozen=True)
class LocalDatabase:
    host: str
    port: str
    name: str
    user: str
    password: str
    described_as: str
    needs_host_gateway: bool = False


def database_from_url(url: str) -> LocalDatabase:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "postgis") or not parts.hostname:
        raise HangarError(
            f"DATABASE_URL must be a postgres://user:password@host:port/name URL, not {url!r}",
            hint="unset it to use the compose `db` service",
        )
    # Inside the container, localhost is the container itself; Docker maps the host's gateway.
    on_host = parts.hostname in LOCAL_HOSTS
    host = HOST_GATEWAY if on_host else parts.hostname
    return LocalDatabase(
        host=host,
        port=str(parts.port or 5432),
        name=parts.path.lstrip("/") or unquote(parts.username or ""),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        described_as=f"DATABASE_URL ({parts.hostname}{' → ' + host if on_host else ''})",
        needs_host_gateway=on_host,
    )


def compose_database(project: str) -> LocalDatabase:
    config = json.loads(_compose(project, "config", "--format", "json"))
    environment = config["services"][DB_SERVICE].get("environment", {})
    return LocalDatabase(
        host=DB_SERVICE,
        port="5432",
        name=environment.get("POSTGRES_DB") or environment.get("POSTGRES_USER", "postgres"),
        user=environment.get("POSTGRES_USER", "postgres"),
        password=environment.get("POSTGRES_PASSWORD", ""),
        described_as=f"compose service `{DB_SERVICE}`",
    )


def database_variables(
    database: LocalDatabase, sources: Mapping[str, SecretSource]
) -> list[Variable]:
    """The DB_* secrets point at the RDS instance LocalStack does not run: use a local one."""
    values = {
        "DB_HOST": database.host,
        "DB_PORT": database.port,
        "DB_NAME": database.name,
        "DB_USER": database.user,
        "DB_PASSWORD": database.password,
    }
    return [
        Variable(
            name,
            values[name],
            f"{database.described_as}, instead of {sources[name].describe()} (RDS is not emulated)"
            if name in sources
            else database.described_as,
            secret=name == "DB_PASSWORD",
        )
        for name in DB_PARTS
    ]


def allowed_hosts(value: str) -> tuple[str, list[str]]:
    hosts = [host for host in value.split(",") if host]
    added = [host for host in LOCAL_HOSTS if host not in hosts]
    return ",".join([*hosts, *added]), added


def local_overrides(spec: ContainerSpec) -> None:
    """What AWS provides around the container (task role, ALB, TLS), replaced for a laptop."""
    spec.set(
        Variable(
            "AWS_ENDPOINT_URL",
            f"http://{LOCALSTACK_SERVICE}:4566",
            "local only: the LocalStack container on the compose network (unset on AWS)",
        )
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        spec.set(
            Variable(
                name,
                "test",
                "local only: LocalStack's fake credentials (on AWS the task role provides them)",
            )
        )
    hosts = spec.variables.get("DJANGO_ALLOWED_HOSTS")
    if hosts is not None:
        value, added = allowed_hosts(hosts.value)
        note = (
            f"; added {', '.join(added)} so a request from this machine is served"
            if added
            else f"; already holds {', '.join(LOCAL_HOSTS)}, so Host: localhost is served"
        )
        spec.set(Variable(hosts.name, value, hosts.source + note))
    https = spec.variables.get("DJANGO_HTTPS")
    if spec.container_port is not None and (https is None or https.value != "false"):
        # The local stage's task says false already (it has no HTTPS listener); a task that says
        # otherwise, or nothing (production's default is true), would redirect to an https://
        # nothing serves here and set cookies the browser never sends back over http://.
        spec.set(
            Variable(
                "DJANGO_HTTPS",
                "false",
                "local only: nothing terminates TLS here (on AWS the ALB's HTTPS listener does)",
            )
        )


def container_spec(
    container: Mapping[str, Any],
    resolver: Resolver,
    *,
    endpoint: str,
    database: LocalDatabase,
) -> ContainerSpec:
    mappings = container.get("PortMappings") or []
    spec = ContainerSpec(
        command=container.get("Command"),
        container_port=int(mappings[0]["ContainerPort"]) if mappings else None,
        health_check=container.get("HealthCheck"),
    )
    for variable in resolve_environment(container, resolver):
        spec.set(variable)
    sources = secret_sources(container, resolver)
    for name, source in sources.items():
        if name in DB_PARTS:
            continue
        spec.set(Variable(name, fetch_secret(source, endpoint), source.describe(), secret=True))
    db_secrets = [_whole_secret(sources[name]) for name in DB_PARTS if name in sources]
    if db_secrets:
        # Still read, so a secret missing from the deployed stack fails here as it would on ECS;
        # the DB_* keys usually share one secret, which is read once.
        for source in dict.fromkeys(db_secrets):
            fetch_secret(source, endpoint)
        for variable in database_variables(database, sources):
            spec.set(variable)
    local_overrides(spec)
    return spec


def _whole_secret(source: SecretSource) -> SecretSource:
    """The secret itself, without the JSON key or version the container reads from it."""
    if isinstance(source, SecretsManagerSource):
        return SecretsManagerSource(source.secret_arn)
    return source


# --- output --------------------------------------------------------------------------------------


def mask(value: str) -> str:
    return f"•••• ({len(value)} chars)"


def table(variables: Sequence[Variable]) -> str:
    rows = [("NAME", "VALUE", "FROM")] + [
        (v.name, mask(v.value) if v.secret else v.value, v.source)
        for v in sorted(variables, key=lambda v: v.name)
    ]
    name_width = max(len(row[0]) for row in rows)
    value_width = min(max(len(row[1]) for row in rows), 60)
    return "\n".join(
        f"  {name:<{name_width}}  {value:<{value_width}}  {source}" for name, value, source in rows
    )


# --- the runtime image ---------------------------------------------------------------------------


def image_inputs_fingerprint(build_options: Sequence[str]) -> str:
    listed = processes.run(
        [
            "git",
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            contract().project_dir,
            *IMAGE_INPUTS,
        ],
        cwd=ROOT,
    ).stdout
    parts: list[str | bytes] = [json.dumps(list(build_options))]
    for name in sorted(set(filter(None, listed.split("\0")))):
        path = ROOT / name
        if path.is_file():
            parts += [name, path.read_bytes()]
    stamp = docker.WHEELHOUSE_DIR / ".input-hash"
    if "--build-arg=DEPS_SOURCE=wheelhouse" in build_options and stamp.exists():
        parts.append(stamp.read_text())
    return docker.fingerprint(*parts)


def runtime_image_tag() -> str:
    """This checkout's (its compose project's): another checkout's build never replaces it."""
    return f"{docker_client.compose_project()}-runtime:local"


def ensure_runtime_image() -> str:
    """The Dockerfile's `runtime` target, rebuilt only when its inputs changed."""
    tag = runtime_image_tag()
    input_hash = image_inputs_fingerprint(runtime_build_options())
    if docker.is_current(tag, input_hash):
        return tag
    with step(f"Build {tag} (Dockerfile target runtime)"):
        build_runtime_image(tag, {docker.INPUT_HASH_LABEL: input_hash})
    return tag


# --- docker run ----------------------------------------------------------------------------------


def container_name(project: str, task: str) -> str:
    return f"{project}-run-task-{task}"


def health_check_arguments(health_check: Mapping[str, Any] | None) -> list[str]:
    """The task definition's health check as `docker run` flags.

    Without one, ECS ignores the image's HEALTHCHECK (the ALB's target health decides instead),
    so it is switched off here too: otherwise the worker, which serves no HTTP, would turn
    unhealthy locally while running fine on ECS.
    """
    if not health_check:
        return ["--no-healthcheck"]
    kind, *command = health_check["Command"]
    shell = command[0] if kind == "CMD-SHELL" else " ".join(command)
    arguments = [f"--health-cmd={shell}"]
    for key, flag, default in (
        ("Interval", "--health-interval", 30),
        ("Timeout", "--health-timeout", 5),
        ("StartPeriod", "--health-start-period", 0),
    ):
        arguments.append(f"{flag}={health_check.get(key, default)}s")
    arguments.append(f"--health-retries={health_check.get('Retries', 3)}")
    return arguments


def docker_run_command(
    spec: ContainerSpec,
    *,
    image: str,
    name: str,
    network: str,
    port: int,
    detach: bool,
    host_gateway: bool,
) -> list[str]:
    """Values travel in the environment of `docker run`, never in its argv (visible in `ps`)."""
    command = ["docker", "run", "--rm", f"--name={name}", f"--network={network}"]
    command += ["--label=org.hangar.run-task=true", "--detach" if detach else "--init"]
    if spec.container_port is not None:
        command.append(f"--publish=127.0.0.1:{port}:{spec.container_port}")
    if host_gateway:
        command.append(f"--add-host={HOST_GATEWAY}:host-gateway")
    command += health_check_arguments(spec.health_check)
    command += [f"--env={variable}" for variable in sorted(spec.variables)]
    return [*command, image, *(spec.command or [])]


def wait_until_started(name: str, health_url: str | None, timeout: float = START_TIMEOUT) -> None:
    """Until the task's health check passes, or, without one, `health_url` answers 200 (as the
    ALB's target health check would), or, for a task serving nothing, the container runs."""
    deadline = time.monotonic() + timeout
    template = "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
    while time.monotonic() < deadline:
        result = subprocess.run(
            ["docker", "inspect", "--format", template, name],
            capture_output=True,
            text=True,
            check=False,
        )
        state, _, health = result.stdout.strip().partition(" ")
        if result.returncode != 0 or state in ("exited", "dead"):
            raise HangarError(
                f"the container {name} stopped during start-up.",
                hint="run again without --detach to see its output",
            )
        if health == "unhealthy":
            break
        if health == "healthy" or (state == "running" and not health and answers(health_url)):
            return
        time.sleep(1)
    logs = subprocess.run(["docker", "logs", "--tail=30", name], capture_output=True, text=True)
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)
    raise HangarError(
        f"{name} did not become healthy (waited up to {timeout:.0f}s); its last output:\n"
        f"{logs.stdout}{logs.stderr}",
        hint="fix what the output names; the container was removed",
    )


def answers(url: str | None) -> bool:
    if url is None:
        return True
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our 127.0.0.1 URL
            return int(response.status) == 200
    except OSError:
        return False


def container_exists(name: str) -> bool:
    return processes.succeeds(["docker", "container", "inspect", name])


# --- the command ---------------------------------------------------------------------------------


def tasks_to_run(task: str) -> list[str]:
    """The migration task first, to completion, as `make deploy` runs it before it updates the
    services: a new project's first page is then served, not a 500 for want of its tables."""
    return list(dict.fromkeys([MIGRATION_TASK, task]))


def prepare(options: Options) -> tuple[dict[str, ContainerSpec], ComposeServices, LocalDatabase]:
    """Each task `tasks_to_run` names, in that order, with its environment resolved."""
    check_local_stage(options.stage)
    if options.task not in TASKS:
        raise HangarError(f"unknown task {options.task!r}", hint=f"one of: {', '.join(TASKS)}")
    require_docker()
    services = compose_services(options.compose_project)
    stack_name = contract().stack_names(infra.LOCAL_STAGE)[1]
    assembly = ensure_synthesized()
    template = infra.stack_template(assembly, stack_name)
    tasks = tasks_to_run(options.task)
    if task_container(template, options.task).get("PortMappings"):
        # Before anything starts, the compose `db` included.
        ensure_free({options.port: f"run-task {options.task}"}, RUN_TASK_PORT_HINT)
    with step(f"Resolve the environment of {', '.join(tasks)} from {services.localstack_endpoint}"):
        stack = deployed_stack(services.localstack_endpoint, stack_name, template)
        if options.database_url:
            database = database_from_url(options.database_url)
        else:
            if not services.db_running:
                ensure_db(services.project)
            database = compose_database(services.project)
        specs = {
            task: container_spec(
                task_container(template, task),
                Resolver(stack),
                endpoint=services.localstack_endpoint,
                database=database,
            )
            for task in tasks
        }
    return specs, services, database


def run(options: Options) -> RunningTask | int:
    """Run the task; detached → the running container, otherwise its exit code."""
    specs, services, database = prepare(options)
    spec = specs[options.task]
    for task in specs:
        if container_exists(existing := container_name(services.project, task)):
            raise HangarError(
                f"a container named {existing} already exists (an earlier run-task).",
                hint=f"stop it: docker rm --force {existing}",
            )
    name = container_name(services.project, options.task)
    image = ensure_runtime_image()
    if options.task != MIGRATION_TASK:
        apply_migrations(specs[MIGRATION_TASK], services, database, image)
    variables = list(spec.variables.values())
    info(f"\nThe {options.task} task's container, as ECS would start it:\n{table(variables)}")
    info(
        f"  image    {image} (built from the Dockerfile's runtime target; ECS pulls the same "
        "build from ECR)\n"
        f"  command  {' '.join(spec.command) if spec.command else '(the image CMD: gunicorn)'}\n"
        f"  network  {services.network} (reaches `{LOCALSTACK_SERVICE}` and `{DB_SERVICE}` by name)"
    )
    url = None
    if spec.container_port is not None:
        url = f"http://127.0.0.1:{options.port}"
        info(
            f"  serving  {url} → container port {spec.container_port} (127.0.0.1 only); "
            "requests need Host: localhost or 127.0.0.1 (DJANGO_ALLOWED_HOSTS)"
        )
    command = docker_run_command(
        spec,
        image=image,
        name=name,
        network=services.network,
        port=options.port,
        detach=options.detach,
        host_gateway=database.needs_host_gateway,
    )
    env = {**os.environ, **{n: v.value for n, v in spec.variables.items()}}
    if not options.detach:
        info(f"Running {name} in the foreground; Ctrl-C stops and removes it.\n")
        return subprocess.run(command, env=env, check=False).returncode
    with step(f"Start {name} and wait until it is healthy"):
        processes.run(command, env=env)
        wait_until_started(name, f"{url}{contract().health_path}" if url else None)
    info(f"{name} runs. Logs: docker logs --follow {name}. Stop: docker rm --force {name}")
    return RunningTask(container=name, url=url)


def apply_migrations(
    spec: ContainerSpec, services: ComposeServices, database: LocalDatabase, image: str
) -> None:
    """The migration task in the foreground; the task asked for starts only if it succeeds."""
    name = container_name(services.project, MIGRATION_TASK)
    command = docker_run_command(
        spec,
        image=image,
        name=name,
        network=services.network,
        port=0,  # the migration task publishes no port
        detach=False,
        host_gateway=database.needs_host_gateway,
    )
    env = {**os.environ, **{n: v.value for n, v in spec.variables.items()}}
    with step(
        f"Apply migrations: the migration task ({' '.join(spec.command or [])}), as deploy does"
    ):
        returncode = subprocess.run(command, env=env, check=False).returncode
    if returncode != 0:
        raise HangarError(
            f"the migration task failed (exit {returncode}; its output is above), so no other "
            "task was started.",
            hint="fix what it names, then run `make run-task` again "
            "(`make run-task TASK=migration` runs it alone)",
        )


def _cmd_run_task(args: argparse.Namespace) -> int:
    options = Options(
        stage=args.stage,
        task=args.task,
        compose_project=args.compose_project or docker_client.compose_project(),
        port=args.port,
        detach=args.detach,
        database_url=os.environ.get("DATABASE_URL") or None,
    )
    result = run(options)
    return 0 if isinstance(result, RunningTask) else result


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "run-task",
        help="run a task definition of the local stage in the runtime image, with its env and "
        "secrets resolved from LocalStack",
    )
    parser.add_argument("--stage", required=True, help="local (other stages run on ECS)")
    parser.add_argument("--task", choices=TASKS, default="web", help="which task definition")
    parser.add_argument(
        "--compose-project",
        default=None,
        help="the compose project whose LocalStack holds the stage (default: this checkout's, "
        "COMPOSE_PROJECT_NAME when set)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="host port on 127.0.0.1 (default: %(default)s)",
    )
    parser.add_argument(
        "--detach", action="store_true", help="return once the container is healthy"
    )
    parser.set_defaults(func=_cmd_run_task)
