"""A task's environment as the ECS agent would inject it, resolved against the `local` stage
deployed in LocalStack: the task definition's variables and secrets, then what cannot exist on a
laptop replaced (the RDS endpoint, AWS credentials, the ALB's host, TLS), each value saying where
it came from."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from hangar.core.aws_clients import DEFAULT_REGION, aws_client
from hangar.core.errors import HangarError
from hangar.core.stages import LOCALSTACK_ACCOUNT
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

LOCALSTACK_SERVICE = "localstack"
DB_SERVICE = "db"


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


PSEUDO_DEFAULTS = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


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
            "AWS::AccountId": LOCALSTACK_ACCOUNT,
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


@dataclass(frozen=True)
class LocalDatabase:
    host: str
    port: str
    name: str
    user: str
    password: str
    described_as: str
    needs_host_gateway: bool = False


# What the DB_* secrets hold; on a laptop they name a local PostgreSQL instead of the RDS instance.
DB_PARTS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")
HOST_GATEWAY = "host.docker.internal"
LOCAL_HOSTS = ("localhost", "127.0.0.1")


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
