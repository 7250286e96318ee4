"""`hangar deploy-local` and `destroy-local`: the `local` stage in LocalStack.

`deploy_local(endpoint)` is the API the tests and `hangar dev` use: it deploys the `local` stage
into the LocalStack at `endpoint` (bootstrapping it the first time), then writes the stack's
outputs, as the app's environment variables, to .hangar/local.env and returns them.
"""

import argparse
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hangar.cdk import driver as cdk
from hangar.core import stage_interface
from hangar.core.aws_clients import DEFAULT_REGION, aws_client
from hangar.core.console import info, step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.locks import exclusive, write_atomically
from hangar.core.paths import LOCAL_ENV_FILE, ROOT, STATE_DIR
from hangar.core.stages import LOCAL_STAGE
from hangar.deploy import declared_secrets
from hangar.deploy.stack_events import describe_failures
from hangar.deploy.stacks import ASSEMBLY_DIR, LOCALSTACK_PLACEHOLDER, run_cdk
from hangar.deploy.watcher import AwsClients, watching
from hangar.localstack.endpoint import configured_endpoint, require_localstack

OUTPUTS_FILE = LOCAL_ENV_FILE.parent / "local-outputs.json"
# The platform's own keys → CfnOutput of the service stack; the app's come from the contract.
PLATFORM_ENV_FROM_OUTPUTS = {
    "DJANGO_ALLOWED_HOSTS": stage_interface.ALLOWED_HOSTS,
    "AWS_REGION": stage_interface.REGION,
}


def env_from_outputs() -> dict[str, str]:
    """Environment variable → service stack output: the contract's declared buckets and queues,
    then the platform's keys."""
    return {**contract().env_from_outputs, **PLATFORM_ENV_FROM_OUTPUTS}


def local_env(outputs: Mapping[str, str], *, secret_key: str, endpoint: str) -> dict[str, str]:
    """The app's environment: the local stage's `[tool.hangar.env.local]`, then the variables of
    its declared resources and the platform's from the service stack's outputs."""
    from_outputs = env_from_outputs()
    missing = [output for output in from_outputs.values() if not outputs.get(output)]
    if missing:
        raise HangarError(
            f"the local service stack has no {', '.join(missing)} output.",
            hint="redeploy it: make deploy-local",
        )
    env = {
        **contract().stage_env.get(LOCAL_STAGE, {}),
        **{key: outputs[output] for key, output in from_outputs.items()},
    }
    hosts = [host for host in env["DJANGO_ALLOWED_HOSTS"].split(",") if host]
    # The load balancer is one of LocalStack's placeholders; the laptop's hosts are real.
    env["DJANGO_ALLOWED_HOSTS"] = ",".join(h for h in hosts if h != LOCALSTACK_PLACEHOLDER)
    env["AWS_ENDPOINT_URL"] = endpoint
    env["DJANGO_SECRET_KEY"] = secret_key
    # LocalStack's fake credentials, so a dev server or worker started from any shell can sign.
    env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "test"  # noqa: S105
    return env


def render_env_file(env: Mapping[str, str]) -> str:
    for key, value in env.items():
        if "\n" in value or not value:
            raise HangarError(f"stack output for {key} is empty or spans lines: {value!r}")
    lines = [f"{key}={value}" for key, value in sorted(env.items())]
    header = "# Written by `hangar deploy-local` from the local stage's outputs; do not edit.\n"
    return header + "\n".join(lines) + "\n"


def write_env_file(env: Mapping[str, str], path: Path = LOCAL_ENV_FILE) -> None:
    """Atomically, so a reader (the dev server's reloader) never sees half a file."""
    write_atomically(path, render_env_file(env), mode=0o600)  # holds SECRET_KEY


# --- deploy-local and destroy-local -------------------------------------------------------------


def deploy_local(endpoint: str) -> dict[str, str]:
    """Deploy (or update) the local stage into LocalStack; write and return .hangar/local.env."""
    endpoint = endpoint.rstrip("/")
    require_localstack(endpoint)  # at once, not after another deploy of this checkout finished
    # One deploy at a time per checkout: they share cdk.out/local and the files written below.
    with exclusive(STATE_DIR / "deploy-local.lock"):
        return _deploy_local(endpoint)


# What the local stage is built from (the CDK app, the CLI's core it imports, the contract, the
# measured capacity, their libraries, the CDK CLI): when none changed and LocalStack still holds
# the very stacks the last deploy made, deploy-local skips synth+deploy.
DEPLOY_INPUTS = (
    "infra",
    "scripts/hangar_infra",
    "scripts/hangar/__init__.py",
    "scripts/hangar/core",
    "capacity.json",
    "pyproject.toml",
    "uv.lock",
    "package.json",
    "package-lock.json",
)
DEPLOY_RECORD = STATE_DIR / "deploy-local.json"
COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


def _files_hash(root: Path, tops: Sequence[Path], seed: object) -> str:
    """sha256 of `seed` and every file under `tops` (names relative to `root`, and contents)."""
    digest = hashlib.sha256(json.dumps(seed).encode())
    for top in tops:
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(f"\0{path.relative_to(root)}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def source_inputs_hash() -> str:
    """What the local stage's cloud assembly is synthesized from, whatever LocalStack it meets."""
    return _files_hash(ROOT, [ROOT / name for name in DEPLOY_INPUTS], cdk.context(LOCAL_STAGE))


def local_inputs_hash(endpoint: str, source: str) -> str:
    """The deploy record's key: the inputs (`source_inputs_hash()`) as deployed into `endpoint`."""
    return hashlib.sha256(json.dumps([endpoint, source]).encode()).hexdigest()


# The local stage's cloud assembly as deploy-local last synthesized it: a deploy into an empty
# LocalStack (after `make down`) reuses it instead of synthesizing again, when the inputs are the
# same and cdk.out/local still holds exactly what that synth wrote (`hangar synth` rewrites it).
ASSEMBLY_RECORD = STATE_DIR / "local-assembly.json"


def _assembly_hash() -> str:
    return _files_hash(ASSEMBLY_DIR, [ASSEMBLY_DIR / LOCAL_STAGE], None)


def reusable_assembly(source: str) -> Path | None:
    """cdk.out/local when deploy-local synthesized it from `source` and nothing rewrote it."""
    try:
        record = json.loads(ASSEMBLY_RECORD.read_text())
    except (OSError, ValueError):
        return None
    assembly = ASSEMBLY_DIR / LOCAL_STAGE
    if not isinstance(record, dict) or record.get("inputs") != source or not assembly.is_dir():
        return None
    return assembly if record.get("assembly") == _assembly_hash() else None


def record_assembly(source: str) -> None:
    ASSEMBLY_RECORD.parent.mkdir(parents=True, exist_ok=True)
    record = {"inputs": source, "assembly": _assembly_hash()}
    ASSEMBLY_RECORD.write_text(json.dumps(record, indent=2) + "\n")


def _deployed_stacks(cloudformation: Any) -> dict[str, dict[str, Any]]:
    """The local stage's stacks LocalStack holds in a completed state, by name."""
    stacks = {}
    for name in contract().stack_names(LOCAL_STAGE):
        try:
            stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError:
            continue
        if stack["StackStatus"] in COMPLETE:
            stacks[name] = stack
    return stacks


def _stack_versions(stacks: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Each stack's id and last change: a restarted LocalStack redeployed by someone else has new
    ids, and a `make deploy STAGE=local` in between has a newer change time."""
    return {
        name: f"{stack['StackId']}@{stack.get('LastUpdatedTime') or stack.get('CreationTime')}"
        for name, stack in stacks.items()
    }


def _deploy_records() -> dict[str, Any]:
    """The last deploy's inputs and stacks, per LocalStack endpoint."""
    try:
        records = json.loads(DEPLOY_RECORD.read_text())
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def _unchanged_outputs(cloudformation: Any, endpoint: str, inputs: str) -> dict[str, str] | None:
    """The service stack's outputs when the last deploy had these inputs and its stacks remain."""
    record = _deploy_records().get(endpoint, {})
    if record.get("inputs") != inputs:
        return None
    stacks = _deployed_stacks(cloudformation)
    if _stack_versions(stacks) != record.get("stacks"):
        return None
    service = stacks[contract().stack_names(LOCAL_STAGE)[1]]
    return {item["OutputKey"]: item["OutputValue"] for item in service.get("Outputs", [])}


def _record_deploy(cloudformation: Any, endpoint: str, inputs: str | None) -> None:
    """Remember (or, with no inputs, forget) what was deployed into this endpoint."""
    records = _deploy_records()
    records.pop(endpoint, None)
    if inputs is not None:
        stacks = _stack_versions(_deployed_stacks(cloudformation))
        records[endpoint] = {"inputs": inputs, "stacks": stacks}
    DEPLOY_RECORD.write_text(json.dumps(records, indent=2) + "\n")


def _deploy_local(endpoint: str) -> dict[str, str]:
    # Before anything changes: without a value for each declared secret no task could start.
    secrets = declared_secrets.values(
        aws_client("secretsmanager", region=DEFAULT_REGION, endpoint=endpoint), LOCAL_STAGE
    )
    cloudformation = aws_client("cloudformation", region=DEFAULT_REGION, endpoint=endpoint)
    source = source_inputs_hash()  # hashes the infra tree once for both records
    inputs = local_inputs_hash(endpoint, source)
    if (outputs := _unchanged_outputs(cloudformation, endpoint, inputs)) is not None:
        info(f"local stage: unchanged since the last deploy into {endpoint}; skipping synth+deploy")
        return _write_local_env(endpoint, outputs, secrets)
    _record_deploy(cloudformation, endpoint, None)
    cdk.ensure_localstack_bootstrapped(
        LOCAL_STAGE,
        region=DEFAULT_REGION,
        endpoint=endpoint,
        title="cdk bootstrap (first deploy into this LocalStack)",
    )
    # LocalStack stamps events with its own clock; a minute of slack covers skew and rounding.
    started = datetime.now(UTC) - timedelta(minutes=1)
    OUTPUTS_FILE.unlink(missing_ok=True)
    clients = AwsClients.connect(region=DEFAULT_REGION, endpoint=endpoint)
    # cdk prints the events; the watcher reads ECS too where LocalStack emulates it (Pro).
    stacks = list(contract().stack_names(LOCAL_STAGE))
    watch = watching(clients, stacks, since=started, show_events=False)
    assembly = reusable_assembly(source)
    if assembly is not None:
        info(
            f"local stage: inputs unchanged since {assembly.relative_to(ROOT)} was synthesized; "
            "deploying it without synthesizing again"
        )
    else:
        ASSEMBLY_RECORD.unlink(missing_ok=True)
    with step(f"cdk deploy stage local into {endpoint}"), watch:
        try:
            run_cdk(
                [
                    "deploy",
                    f"{contract().resource_prefix(LOCAL_STAGE)}/*",
                    *cdk.context(LOCAL_STAGE),
                    *([] if assembly else ["--output", str(ASSEMBLY_DIR / LOCAL_STAGE)]),
                    "--require-approval",
                    "never",
                    "--outputs-file",
                    str(OUTPUTS_FILE),
                    "--progress",
                    "events",
                    # CreateStack/UpdateStack instead of a change set: the CLI polls every 5 s,
                    # and a change set is one more wait per stack, for a review nobody does here.
                    "--method",
                    "direct",
                ],
                endpoint=endpoint,
                failure="deploying the local stage failed",
                app=str(assembly) if assembly else None,
            )
        except HangarError as error:
            reasons = describe_failures(cloudformation, stacks, started)
            raise HangarError(f"{error.message}\n{reasons}", error.hint) from error
    outputs = json.loads(OUTPUTS_FILE.read_text()).get(stacks[1], {})
    env = _write_local_env(endpoint, outputs, secrets)
    _record_deploy(cloudformation, endpoint, inputs)
    if assembly is None:
        record_assembly(source)
    return env


def _write_local_env(
    endpoint: str, outputs: Mapping[str, str], secrets: Mapping[str, str]
) -> dict[str, str]:
    """`secrets`: the declared secrets' values, which the tasks get the same way as SECRET_KEY."""
    secret_key = _secret_value(endpoint, outputs.get(stage_interface.SECRET_KEY_ARN))
    env = {**local_env(outputs, secret_key=secret_key, endpoint=endpoint), **secrets}
    write_env_file(env)
    info(f"Wrote {LOCAL_ENV_FILE.relative_to(ROOT)}: {', '.join(sorted(env))}")
    return env


def _secret_value(endpoint: str, secret_arn: str | None) -> str:
    if not secret_arn:
        raise HangarError(
            f"the local service stack has no {stage_interface.SECRET_KEY_ARN} output.",
            hint="redeploy it: make deploy-local",
        )
    client = aws_client("secretsmanager", region=DEFAULT_REGION, endpoint=endpoint)
    try:
        return str(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    except (ClientError, BotoCoreError) as error:
        raise HangarError(
            f"cannot read the SECRET_KEY secret {secret_arn}: {error}",
            hint="redeploy the local stage: make deploy-local",
        ) from error


def destroy_local(endpoint: str) -> None:
    """Delete the local stage's stacks (service first: it imports the registry's outputs)."""
    endpoint = endpoint.rstrip("/")
    require_localstack(endpoint)
    cloudformation = aws_client("cloudformation", region=DEFAULT_REGION, endpoint=endpoint)
    started = datetime.now(UTC) - timedelta(minutes=1)
    for name in reversed(contract().stack_names(LOCAL_STAGE)):
        with step(f"delete stack {name}"):
            try:
                cloudformation.delete_stack(StackName=name)
                cloudformation.get_waiter("stack_delete_complete").wait(
                    StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
                )
            except (ClientError, BotoCoreError) as error:
                reasons = describe_failures(cloudformation, [name], started)
                raise HangarError(
                    f"deleting {name} failed: {error}\n{reasons}",
                    hint="make localstack-logs shows LocalStack's side; `make localstack-down` "
                    "and up again starts from an empty LocalStack",
                ) from error
    LOCAL_ENV_FILE.unlink(missing_ok=True)


# --- CLI -----------------------------------------------------------------------------------------


def _cmd_deploy_local(args: argparse.Namespace) -> int:
    deploy_local(configured_endpoint().url)
    return 0


def _cmd_destroy_local(args: argparse.Namespace) -> int:
    destroy_local(configured_endpoint().url)
    info(f"Destroyed the local stage and removed {LOCAL_ENV_FILE.relative_to(ROOT)}")
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    subparsers.add_parser(
        "deploy-local",
        help="deploy the local stage into LocalStack and write .hangar/local.env",
    ).set_defaults(func=_cmd_deploy_local)
    subparsers.add_parser(
        "destroy-local", help="delete the local stage's stacks from LocalStack"
    ).set_defaults(func=_cmd_destroy_local)
