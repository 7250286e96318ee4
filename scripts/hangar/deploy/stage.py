"""`hangar deploy`: ship one immutable image tag to one stage, the same from a laptop and from CI.

1. deploy the stage's registry stack (the ECR repository exists before an image is pushed);
2. push the commit's runtime image as `<repository>:<tag>` and read its digest back
(hangar.deploy.image:
   CI hands over the OCI archive it built and scanned, `--image-archive`; a laptop builds one for
   the pinned platform with buildx). A tag that is already there is reused, never rebuilt: tags
   are immutable, and a rollback by hand redeploys the image pushed before; with CI's archive only
   if it holds that very image (an image nobody scanned never ships);
3. run the migrations as a one-off ECS task with the *new* image, failing on a non-zero exit;
4. deploy the service stack with `-c imageDigest=<digest>`: the task definitions name the image by
   digest, exactly what was pushed (ECS's circuit breaker rolls back a bad one); deletion
   protection comes on once the stack's first create completed (`deploy_service`);
5. smoke-test the health and readiness paths ([tool.hangar]) through the load balancer.

`--certificate-arn` (or CERTIFICATE_ARN) gives the load balancer an HTTPS listener with that ACM
certificate (`-c certificateArn=`); without it the stage is served over HTTP only, which the `prod`
stage refuses.

Against LocalStack (`--local` or LOCALSTACK_ENDPOINT) the same steps run with cdklocal; those that
need a service the free LocalStack does not emulate (ECS, ELBv2) are skipped, saying so; the image
goes to the local OCI-layout registry that stands in for ECR (see hangar.deploy.image).
"""

import argparse
import base64
import dataclasses
import http.client
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from hangar.cdk import driver as cdk
from hangar.cdk.bootstrap_template import stage_qualifier, toolkit_stack_name
from hangar.core import docker_client, stage_interface
from hangar.core.aws_clients import DEFAULT_REGION, aws_client, caller_region
from hangar.core.console import info, step, warn
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.git import has_uncommitted_changes, head_commit
from hangar.core.paths import STATE_DIR
from hangar.deploy import declared_secrets, releases
from hangar.deploy import image as image_module
from hangar.deploy.stacks import (
    HTTPS_REQUIRED_STAGES,
    LOCAL_STAGE,
    LOCALSTACK_PLACEHOLDER,
    STAGES,
    check_stage,
    stack_template,
)
from hangar.deploy.stage_access import resolve_endpoint
from hangar.deploy.watcher import AwsClients, watching

# The image of a commit is tagged with its full SHA: an abbreviation can become ambiguous, and any
# other name says nothing about what was built.
FULL_SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")
MIGRATION_TIMEOUT_SECONDS = 15 * 60
SMOKE_ATTEMPTS = 10
SMOKE_INTERVAL_SECONDS = 6.0
HTTP_TIMEOUT_SECONDS = 10.0
MIGRATION_OUTPUTS = (
    stage_interface.CLUSTER_NAME,
    stage_interface.MIGRATION_TASK_DEFINITION_ARN,
    stage_interface.MIGRATION_SUBNET_IDS,
    stage_interface.MIGRATION_SECURITY_GROUP_ID,
    stage_interface.MIGRATION_ASSIGN_PUBLIC_IP,
)
PUBLIC_IP_SETTINGS = ("ENABLED", "DISABLED")


class Skipped(Exception):
    """A step that cannot run here; the message is the reason the user is shown."""


@dataclass(frozen=True)
class Target:
    stage: str
    image_tag: str
    region: str
    endpoint: str | None  # LocalStack gateway; None means real AWS
    # ACM certificate of the HTTPS listener; None serves the stage over HTTP only.
    certificate_arn: str | None = None
    # CI's built and scanned image (OCI archive); None builds one here when the tag is not pushed.
    image_archive: image_module.ImageArchive | None = None
    # Known once step 2 read it back from the registry; the service stack runs this digest.
    image_digest: str | None = None
    # E-mail address or https:// endpoint subscribed to the stage's alarm topic.
    alarm_subscription: str | None = None

    @property
    def local(self) -> bool:
        return self.endpoint is not None

    def stack_path(self, stack: str) -> str:
        """The CDK CLI's selector for one of the stage's stacks (the Stage is named by the
        stage's resource prefix, `<service>-<stage>`)."""
        return f"{contract().resource_prefix(self.stage)}/{stack}"

    def stack_name(self, stack: str) -> str:
        """CloudFormation name of the stage's `Registry` or `Service` stack."""
        registry, service = contract().stack_names(self.stage)
        return {"Registry": registry, "Service": service}[stack]

    def client(self, service: str) -> Any:
        return aws_client(service, region=self.region, endpoint=self.endpoint)


# --- input validation ----------------------------------------------------------------------------


def resolve_image_tag(stage: str, image_tag: str | None, *, local: bool) -> str:
    """The tag to deploy; refuses what would make a deploy unrepeatable, before anything changes."""
    if not image_tag:
        if local and stage == LOCAL_STAGE:
            return LOCAL_STAGE
        raise HangarError(
            f"stage {stage!r} needs an image tag.",
            hint=f"pass the commit: make deploy STAGE={stage} IMAGE_TAG=$(git rev-parse HEAD)",
        )
    if image_tag == "latest":
        raise HangarError(
            "IMAGE_TAG 'latest' is refused: a moving tag makes a deploy unrepeatable and a "
            "rollback impossible (ECS cannot tell two images behind the same tag apart).",
            hint="pass the git SHA of the commit to deploy: IMAGE_TAG=$(git rev-parse HEAD)",
        )
    if not FULL_SHA_PATTERN.fullmatch(image_tag):
        raise HangarError(
            f"IMAGE_TAG {image_tag!r} is not the full SHA of a commit.",
            hint="pass the 40-character SHA of the commit: IMAGE_TAG=$(git rev-parse HEAD)",
        )
    return image_tag


def resolve_certificate_arn(stage: str, certificate_arn: str | None) -> str | None:
    """The certificate to pass as context; the CDK app checks its form (one place for that rule)."""
    certificate_arn = (certificate_arn or "").strip() or None
    if certificate_arn is None and stage in HTTPS_REQUIRED_STAGES:
        raise HangarError(
            f"stage {stage!r} must serve HTTPS and no certificate was given.",
            hint=f"pass the ACM certificate of the stage's domain: make deploy STAGE={stage} "
            "IMAGE_TAG=<git sha> CERTIFICATE_ARN=arn:aws:acm:<region>:<account>:certificate/<id> "
            "(in GitHub Actions: the CERTIFICATE_ARN variable of the environment)",
        )
    if certificate_arn is not None and stage == LOCAL_STAGE:
        raise HangarError(
            "the local stage cannot use a certificate: LocalStack (free) has no load balancer, "
            "so the local stage serves HTTP only.",
            hint="unset CERTIFICATE_ARN (or drop --certificate-arn) for STAGE=local",
        )
    return certificate_arn


def resolve_image_archive(
    archive: Path | None, scan_report: Path | None
) -> image_module.ImageArchive | None:
    """CI's image: an OCI archive of the pinned platform, deployed only with its own scan report."""
    if archive is None:
        return None
    built = image_module.read_archive(archive)
    image_module.check_platform(built.platform, f"the image in {archive}")
    image_module.check_scan_report(built, scan_report)
    return built


def check_commit_matches(image_tag: str) -> None:
    """An image pushed as <sha> must be built from exactly that commit, with nothing uncommitted."""
    head = head_commit()
    if image_tag != head:
        raise HangarError(
            f"IMAGE_TAG {image_tag} is not the checked-out commit ({head}): the image would carry "
            "the name of a commit it was not built from.",
            hint=f"check out {image_tag} first, or deploy this commit with IMAGE_TAG={head}",
        )
    if has_uncommitted_changes(untracked=False):
        raise HangarError(
            "the working tree has uncommitted changes; they would ship under a commit's tag.",
            hint="commit or stash them, then deploy again",
        )


def require_output(target: Target, outputs: Mapping[str, str], *keys: str) -> None:
    """Missing outputs are expected in LocalStack (unemulated resources), a broken stack on AWS."""
    missing = [key for key in keys if not outputs.get(key)]
    if not missing:
        return
    message = f"the stack has no {', '.join(missing)} output"
    if target.local:
        raise Skipped(f"{message} (LocalStack skips resources it does not emulate)")
    raise HangarError(
        message, hint="synthesize the stage (`make synth`) and check the stack's outputs"
    )


def require_emulated(target: Target, probe: Callable[[], object], service: str) -> None:
    """Raise Skipped when LocalStack answers that `service` is not in its free edition."""
    if not target.local:
        return
    try:
        probe()
    except (ClientError, BotoCoreError) as error:
        raise Skipped(
            f"LocalStack (free) does not emulate {service}: {error}. The stack's resources are "
            "verified by the synth assertions, cdk-nag and cfn-lint instead"
        ) from error


# --- CDK -----------------------------------------------------------------------------------------


def cdk_environment(target: Target) -> dict[str, str]:
    return cdk.environment(region=target.region, endpoint=target.endpoint)


def cdk_synth_command(target: Target, assembly: Path) -> list[str]:
    """Every context value goes in here: both stacks are deployed from this one assembly."""
    context = cdk.context(
        target.stage,
        imageTag=target.image_tag,
        imageDigest=target.image_digest,
        certificateArn=target.certificate_arn,
        alarmSubscription=target.alarm_subscription,
    )
    command = [cdk.cli(target.local), "synth", "--app", cdk.app(), *context]
    return [*command, "--output", str(assembly), "--quiet"]


def cdk_deploy_command(
    target: Target,
    assembly: Path,
    stack: str,
    outputs_file: Path,
    parameters: Mapping[str, str] | None = None,
) -> list[str]:
    """`parameters` set the stack's CloudFormation parameters; the others keep their values."""
    command = [
        cdk.cli(target.local),
        "deploy",
        "--app",
        str(assembly),
        target.stack_path(stack),
        "--exclusively",
        "--require-approval",
        "never",
        "--outputs-file",
        str(outputs_file),
        "--progress",
        "events",
        # The stage's own bootstrap (another stage's may share the account): what the CLI falls
        # back to when it looks the toolkit up.
        "--toolkit-stack-name",
        toolkit_stack_name(stage_qualifier(target.stage)),
        *(f"--parameters={name}={value}" for name, value in (parameters or {}).items()),
    ]
    if os.environ.get("CI") == "true":
        command.append("--ci")
    return command


def run_cdk(target: Target, command: list[str], failure: str) -> None:
    cdk.run(
        command,
        region=target.region,
        endpoint=target.endpoint,
        failure=failure,
        hint="read the CDK output above (an account that was never bootstrapped needs "
        "`make bootstrap-aws` once; a failed stack update has been rolled back)",
    )


def cdk_synth(target: Target, assembly: Path) -> None:
    """Synthesize the stage once (with cdk-nag); both stack deploys reuse this cloud assembly."""
    run_cdk(
        target, cdk_synth_command(target, assembly), f"cdk synth of stage {target.stage} failed"
    )


def cdk_deploy(
    target: Target, assembly: Path, stack: str, parameters: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Deploy one of the stage's stacks from the synthesized assembly; returns its outputs."""
    outputs_file = assembly.parent / f"{stack}-outputs.json"
    command = cdk_deploy_command(target, assembly, stack, outputs_file, parameters)
    clients = AwsClients.connect(region=target.region, endpoint=target.endpoint)
    # cdk prints the stack's events; the watcher adds what ECS and the load balancer say about
    # failing tasks, and stops a deploy that cannot succeed instead of letting it hang for hours.
    with watching(clients, [target.stack_name(stack)], since=datetime.now(UTC), show_events=False):
        run_cdk(target, command, f"cdk deploy {target.stack_path(stack)} failed")
    content = json.loads(outputs_file.read_text()) if outputs_file.exists() else {}
    return dict(content.get(target.stack_name(stack), {}))


def deployed_outputs(target: Target, stack: str) -> dict[str, str]:
    """Outputs of the stack as deployed now; {} before its first deploy."""
    cfn = target.client("cloudformation")
    try:
        stacks = cfn.describe_stacks(StackName=target.stack_name(stack))["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return {}
        raise HangarError(f"cannot read stack {target.stack_name(stack)}: {error}") from error
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


# --- step 2: image -------------------------------------------------------------------------------


def push_image(target: Target, registry_outputs: Mapping[str, str]) -> str:
    """Put the commit's image in the stage's registry; returns the digest the tag holds there."""
    if target.image_tag == LOCAL_STAGE:
        raise Skipped(
            "no IMAGE_TAG: the local stage deploys without an image; pass IMAGE_TAG=$(git "
            "rev-parse HEAD) to build, push and deploy this commit's image by digest"
        )
    with tempfile.TemporaryDirectory(prefix="hangar-registry-auth-") as auth_dir:
        registry = stage_registry(target, registry_outputs, Path(auth_dir) / "auth.json")
        # CI's scanned archive ships; a laptop deploy builds one unless the tag is already there.
        return image_module.publish(
            registry, target.image_tag, target.image_archive, lambda: build(target)
        )


def stage_registry(
    target: Target, registry_outputs: Mapping[str, str], auth_file: Path
) -> image_module.Registry:
    """ECR on AWS (logged in for this deploy only); the local OCI-layout registry in LocalStack."""
    if target.local:
        info("LocalStack (free) has no ECR API: the local OCI-layout registry stands in for it")
        return image_module.Registry.local(target.stage)
    require_output(target, registry_outputs, stage_interface.REPOSITORY_URI)
    registry = image_module.Registry(
        "docker://", registry_outputs[stage_interface.REPOSITORY_URI], auth_file
    )
    token = target.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    image_module.login(registry, user, password)
    return registry


def build(target: Target) -> image_module.ImageArchive:
    """A laptop deploy (no CI archive): the same build CI does, for the pinned platform."""
    if not docker_client.engine_responds():
        raise HangarError(
            "building the image needs Docker, and no Docker engine answers.",
            hint="start Docker (as root on Debian: `hangar docker provision`), then deploy again",
        )
    destination = STATE_DIR / "images" / f"{target.image_tag}.oci.tar"
    return image_module.build_archive(target.image_tag, destination)


# --- step 3: migrations --------------------------------------------------------------------------

# What RegisterTaskDefinition accepts back from DescribeTaskDefinition (the rest is read-only).
REGISTRABLE_TASK_FIELDS = frozenset(
    {
        "family",
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "volumes",
        "placementConstraints",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "runtimePlatform",
        "ephemeralStorage",
    }
)


def migration_task_definition(described: Mapping[str, Any], image: str) -> dict[str, Any]:
    """A registrable copy of the migration task definition that runs `image` instead.

    The deployed revision still names the previous release's image; the migrations must come from
    the code about to serve traffic, before it does.
    """
    containers = [dict(container) for container in described["containerDefinitions"]]
    if len(containers) != 1:
        raise HangarError(
            f"the migration task definition has {len(containers)} containers; expected exactly one"
        )
    containers[0]["image"] = image
    definition = {k: v for k, v in described.items() if k in REGISTRABLE_TASK_FIELDS}
    return {**definition, "containerDefinitions": containers}


def task_outcome(task: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a STOPPED task succeeded, and a one-line account of it."""
    containers = task.get("containers", [])
    failures = [
        f"{c.get('name')} exited {c.get('exitCode', '(no code)')} {c.get('reason', '')}".strip()
        for c in containers
        if c.get("exitCode") != 0
    ]
    if not containers or failures:
        account = "; ".join(failures) or "no container ran"
        return False, f"{account} (stopped: {task.get('stoppedReason', 'no reason given')})"
    return True, "every container exited 0"


def migration_network(service_outputs: Mapping[str, str]) -> dict[str, Any]:
    """The migration task's network, as the stack placed the services: dev runs its tasks in public
    subnets with a public IP (no NAT), staging and prod in private subnets behind NAT."""
    assign_public_ip = service_outputs[stage_interface.MIGRATION_ASSIGN_PUBLIC_IP]
    if assign_public_ip not in PUBLIC_IP_SETTINGS:
        raise HangarError(
            f"the stack's MigrationAssignPublicIp output is {assign_public_ip!r}, "
            f"not one of {', '.join(PUBLIC_IP_SETTINGS)}",
            hint="synthesize the stage (`make synth`) and check the stack's outputs",
        )
    return {
        "awsvpcConfiguration": {
            "subnets": service_outputs[stage_interface.MIGRATION_SUBNET_IDS].split(","),
            "securityGroups": [service_outputs[stage_interface.MIGRATION_SECURITY_GROUP_ID]],
            "assignPublicIp": assign_public_ip,
        }
    }


def run_migrations(
    target: Target,
    service_outputs: Mapping[str, str],
    image: str,
    *,
    timeout_seconds: int = MIGRATION_TIMEOUT_SECONDS,
    poll_seconds: int = 10,
) -> None:
    require_output(target, service_outputs, *MIGRATION_OUTPUTS)
    ecs = target.client("ecs")
    cluster = service_outputs[stage_interface.CLUSTER_NAME]
    require_emulated(target, lambda: ecs.describe_clusters(clusters=[cluster]), "ECS")
    network = migration_network(service_outputs)
    described = ecs.describe_task_definition(
        taskDefinition=service_outputs[stage_interface.MIGRATION_TASK_DEFINITION_ARN]
    )["taskDefinition"]
    revision = ecs.register_task_definition(**migration_task_definition(described, image))
    revision_arn = revision["taskDefinition"]["taskDefinitionArn"]
    try:
        started = ecs.run_task(
            cluster=cluster,
            taskDefinition=revision_arn,
            launchType="FARGATE",
            count=1,
            networkConfiguration=network,
            startedBy=f"{contract().service_name}-deploy",
        )
        if started.get("failures") or not started.get("tasks"):
            raise HangarError(f"ECS did not start the migration task: {started.get('failures')}")
        task_arn = started["tasks"][0]["taskArn"]
        info(f"migration task {task_arn} started; waiting for it to stop")
        wait_for_migration(ecs, cluster, task_arn, timeout_seconds, poll_seconds)
        task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        succeeded, account = task_outcome(task)
        if not succeeded:
            raise HangarError(
                f"the migration task failed: {account}",
                hint="read its log stream (prefix `migrate`) in the app log group; "
                "the service was not updated",
            )
        info(f"migrations done: {account}")
    finally:
        # This revision only carried this run; the stack's own revision stays the active one.
        ecs.deregister_task_definition(taskDefinition=revision_arn)


def wait_for_migration(
    ecs: Any, cluster: str, task_arn: str, timeout_seconds: int, poll_seconds: int
) -> None:
    """Wait for the task to stop; one running at the deadline is stopped, never left behind."""
    try:
        ecs.get_waiter("tasks_stopped").wait(
            cluster=cluster,
            tasks=[task_arn],
            WaiterConfig={
                "Delay": poll_seconds,
                "MaxAttempts": max(1, timeout_seconds // max(1, poll_seconds)),
            },
        )
    except WaiterError as error:
        if "Max attempts exceeded" not in str(error):
            raise HangarError(f"cannot follow the migration task {task_arn}: {error}") from error
        minutes = timeout_seconds / 60
        ecs.stop_task(
            cluster=cluster,
            task=task_arn,
            reason=f"hangar deploy: migrations did not finish within {minutes:.0f} minutes",
        )
        raise HangarError(
            f"the migration task {task_arn} did not finish within {minutes:.0f} minutes; "
            "it has been stopped and the service was not updated",
            hint="read its log stream (prefix `migrate`) in the app log group: a migration "
            "waiting on a lock, or a task that cannot reach the database or pull its image",
        ) from error


# --- step 5: smoke test --------------------------------------------------------------------------


def smoke_test(
    target: Target,
    service_outputs: Mapping[str, str],
    *,
    attempts: int = SMOKE_ATTEMPTS,
    interval: float = SMOKE_INTERVAL_SECONDS,
) -> None:
    require_output(target, service_outputs, stage_interface.SERVICE_URL)
    service_url = service_outputs[stage_interface.SERVICE_URL]
    if target.local and urllib.parse.urlsplit(service_url).hostname == LOCALSTACK_PLACEHOLDER:
        # No load balancer stands behind it: a minute of retries would only find that out again.
        raise Skipped(
            f"the stack's ServiceUrl is {service_url}: LocalStack (free) does not emulate ELBv2"
        )
    app = contract()
    for path in (app.health_path, app.readiness_path):
        url = service_url.rstrip("/") + path
        problem = ""
        for attempt in range(1, attempts + 1):
            status, body = http_get(url)
            if status == 200:
                info(f"GET {url}: 200")
                break
            problem = f"{status or 'no answer'} {body[:300]}".strip()
            info(f"GET {url}: {problem} (attempt {attempt}/{attempts})")
            if attempt < attempts:
                time.sleep(interval)
        else:
            if target.local and status is None:
                raise Skipped(f"{url} does not answer: LocalStack (free) does not emulate ELBv2")
            raise HangarError(
                f"smoke test failed: GET {url} answered {problem}",
                hint=smoke_test_hint(service_outputs),
            )


def smoke_test_hint(service_outputs: Mapping[str, str]) -> str:
    hint = (
        f"{contract().readiness_path} names the dependency that is down; the ECS service events "
        "say more"
    )
    host = urllib.parse.urlsplit(service_outputs[stage_interface.SERVICE_URL]).hostname
    load_balancer = service_outputs.get(stage_interface.LOAD_BALANCER_DNS_NAME)
    if host and load_balancer and host != load_balancer.lower():
        # With HTTPS the URL is the stage's domain, which only DNS connects to the load balancer.
        hint += (
            f". {host} must resolve to the load balancer: create a CNAME (or alias) record "
            f"{host} → {load_balancer}, then deploy again"
        )
    return hint


def http_get(url: str) -> tuple[int | None, str]:
    if not url.startswith(("http://", "https://")):
        raise HangarError(f"the service URL {url!r} is not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as error:
        return None, str(getattr(error, "reason", error))


# --- the command ---------------------------------------------------------------------------------


def skippable(title: str, action: Callable[[], Any]) -> Any:
    """Run a step that may not apply here; a skip is reported with its reason, never silent."""
    with step(title):
        try:
            return action()
        except Skipped as reason:
            warn(f"skipped: {reason}")
            return None


def deploy(target: Target) -> dict[str, str]:
    """Run the five steps; returns what the job summary shows."""
    if target.endpoint is not None:
        cdk.ensure_localstack_bootstrapped(
            target.stage,
            region=target.region,
            endpoint=target.endpoint,
            title="0/5 cdk bootstrap (this LocalStack has not been bootstrapped)",
        )
    with tempfile.TemporaryDirectory(prefix="hangar-deploy-") as scratch:
        assembly = Path(scratch) / "cdk.out"
        with step(f"Synthesize stage {target.stage} (cdk-nag checks included)"):
            cdk_synth(target, assembly)
        return deploy_stacks(target, assembly)


def deploy_stacks(target: Target, assembly: Path) -> dict[str, str]:
    with step(f"1/5 Deploy the registry stack {target.stack_path('Registry')}"):
        registry = cdk_deploy(target, assembly, "Registry")
    digest = skippable(
        f"2/5 Push the runtime image :{target.image_tag} and read its digest back",
        lambda: push_image(target, registry),
    )
    image = None
    if digest:
        target = dataclasses.replace(target, image_digest=digest)
        repository = (
            image_module.Registry.local(target.stage).repository
            if target.local
            else registry[stage_interface.REPOSITORY_URI]
        )
        image = f"{repository}@{digest}"
        assembly = assembly.parent / "cdk.out.by-digest"
        with step(f"Synthesize stage {target.stage} again, with the image by digest {digest}"):
            cdk_synth(target, assembly)
    # Migrations run with the new image before it serves traffic; on a stage's first deploy there is
    # no database until the service stack has created it, so they run right after that instead.
    deployed_service = deployed_outputs(target, "Service")
    first_deploy = not deployed_service
    if image and not first_deploy:
        skippable(
            "3/5 Run the migrations with the new image",
            lambda: run_migrations(target, deployed_service, image),
        )
    service = deploy_service(target, assembly, image or target.image_tag, created=not first_deploy)
    if image and first_deploy:
        skippable(
            "3/5 Run the migrations (first deploy of this stage)",
            lambda: run_migrations(target, service, image),
        )
    if not image:
        warn("skipped: 3/5 migrations, which run the pushed image (step 2 was skipped)")
    app = contract()
    skippable(
        f"5/5 Smoke-test {app.health_path} and {app.readiness_path}",
        lambda: smoke_test(target, service),
    )
    if digest:
        record_release(
            target,
            releases.new_release(
                target.image_tag,
                digest,
                scanned=target.image_archive is not None,
                environ=os.environ,
            ),
        )
    return {
        "stage": target.stage,
        "image tag": target.image_tag,
        "image": image or "not pushed (see step 2)",
        "platform": image_module.image_platform(),
        "certificate": target.certificate_arn or "none: HTTP only",
        "url": service.get(stage_interface.SERVICE_URL, ""),
    }


def record_release(target: Target, release: releases.Release) -> None:
    """What `hangar releases` lists and `hangar rollback` goes back to (hangar.deploy.releases)."""
    with step(f"Record release {release.sha[:12]} in SSM"):
        name = releases.record(target.client("ssm"), target.stage, release)
        info(f"{name}: {release.digest}, by {release.deployed_by}")


def redeploy(target: Target) -> dict[str, str]:
    """A rollback: the service stack step with an image deployed before (`target.image_digest`),
    still in the stage's registry; no build, no push, no migrations (hangar.deploy.rollback
    refused a release whose migrations are behind the database's)."""
    assert target.image_digest is not None
    registry_outputs = deployed_outputs(target, "Registry")
    with step(f"Check that the registry still holds {target.image_tag} = {target.image_digest}"):
        repository = image_in_registry(target, registry_outputs)
    image = f"{repository}@{target.image_digest}"
    with tempfile.TemporaryDirectory(prefix="hangar-rollback-") as scratch:
        assembly = Path(scratch) / "cdk.out"
        with step(
            f"Synthesize stage {target.stage} with the image by digest {target.image_digest}"
        ):
            cdk_synth(target, assembly)
        service = deploy_service(target, assembly, image, created=True)
    app = contract()
    skippable(
        f"Smoke-test {app.health_path} and {app.readiness_path}",
        lambda: smoke_test(target, service),
    )
    return {
        "stage": target.stage,
        "image tag": target.image_tag,
        "image": image,
        "url": service.get(stage_interface.SERVICE_URL, ""),
    }


def image_in_registry(target: Target, registry_outputs: Mapping[str, str]) -> str:
    """The repository, once it is known to hold the release's image (a lifecycle rule or a person
    may have deleted it)."""
    assert target.image_digest is not None
    with tempfile.TemporaryDirectory(prefix="hangar-registry-auth-") as auth_dir:
        registry = stage_registry(target, registry_outputs, Path(auth_dir) / "auth.json")
        if not image_module.holds(registry, target.image_tag, target.image_digest):
            raise HangarError(
                f"{registry.reference(target.image_tag)} no longer holds {target.image_digest}: "
                "nothing to roll back to without a rebuild.",
                hint="pick another release (make releases), or deploy that commit again through CI",
            )
    return registry.repository


def deploy_service(target: Target, assembly: Path, image: str, *, created: bool) -> dict[str, str]:
    """Step 4, the service stack. Where it protects resources from deletion (its DeletionProtection
    parameter, hangar.core.stage_interface), the protection is on for every deploy of a stack
    that exists, and turned on right after its first create completed: during that create it is
    off, so that a create that fails can delete what it made and be retried."""
    stack_name = target.stack_name("Service")
    protects = stage_interface.DELETION_PROTECTION in stack_template(assembly, stack_name).get(
        "Parameters", {}
    )
    protection = {stage_interface.DELETION_PROTECTION: "true"} if protects else {}
    listener = f"HTTPS with {target.certificate_arn}" if target.certificate_arn else "HTTP only"
    with step(f"4/5 Deploy {target.stack_path('Service')} with image {image}, {listener}"):
        outputs = cdk_deploy(target, assembly, "Service", protection if created else {})
    if protects and not created:
        with step(f"4/5 Turn on deletion protection: {stack_name}'s first create completed"):
            outputs = cdk_deploy(target, assembly, "Service", protection)
    return outputs


def write_github_summary(summary: Mapping[str, str], environ: Mapping[str, str]) -> None:
    """In GitHub Actions: job summary and step outputs (url, image-tag); elsewhere nothing."""
    if summary_path := environ.get("GITHUB_STEP_SUMMARY"):
        rows = "".join(f"| {key} | {value or '-'} |\n" for key, value in summary.items())
        with open(summary_path, "a", encoding="utf-8") as handle:
            handle.write(f"## Deployed {summary['stage']}\n\n| | |\n| --- | --- |\n{rows}")
    if output_path := environ.get("GITHUB_OUTPUT"):
        with open(output_path, "a", encoding="utf-8") as handle:
            handle.write(f"url={summary['url']}\nimage-tag={summary['image tag']}\n")


def resolve_stage(stage: str | None) -> str:
    """A deploy names its stage: picking one silently could ship to the wrong place."""
    if not stage:
        raise HangarError(
            "which stage? A deploy needs one.",
            hint=f"pass one of {', '.join(STAGES)}: make deploy STAGE=local (LocalStack), or "
            "make deploy STAGE=staging IMAGE_TAG=$(git rev-parse HEAD)",
        )
    return check_stage(stage)


def run_deploy(args: argparse.Namespace) -> int:
    args.stage = resolve_stage(args.stage)
    endpoint = resolve_endpoint(args.stage, args.local, os.environ)
    target = Target(
        stage=args.stage,
        image_tag=resolve_image_tag(args.stage, args.image_tag, local=endpoint is not None),
        # LocalStack serves any region; on AWS the caller's must be the one the stacks are for.
        region=DEFAULT_REGION if endpoint else caller_region(os.environ),
        endpoint=endpoint,
        certificate_arn=resolve_certificate_arn(args.stage, args.certificate_arn),
        image_archive=resolve_image_archive(args.image_archive, args.scan_report),
        alarm_subscription=(args.alarm_subscription or "").strip() or None,
    )
    if target.image_tag != LOCAL_STAGE:
        check_commit_matches(target.image_tag)
    where = f"LocalStack at {endpoint}" if endpoint else f"AWS {target.region}"
    info(f"Deploying stage {target.stage} with image tag {target.image_tag} to {where}")
    if target.certificate_arn:
        info(f"HTTPS on the load balancer with certificate {target.certificate_arn}")
    elif target.stage != LOCAL_STAGE:
        warn(
            f"no certificate (CERTIFICATE_ARN): stage {target.stage} is served over HTTP only, "
            "and the app is told so (no HTTPS redirect, no Secure cookies)"
        )
    if target.stage != LOCAL_STAGE and not target.alarm_subscription:
        warn(
            f"no ALARM_SUBSCRIPTION: stage {target.stage}'s alarms reach nobody; pass an e-mail "
            "address or an https:// endpoint (docs/infra.md, Monitoring)"
        )
    # Before anything changes: without a value for each declared secret no task could start.
    declared_secrets.require_values(target.client("secretsmanager"), target.stage)
    summary = deploy(target)
    write_github_summary(summary, os.environ)
    info(f"Deployed {target.stage} ({target.image_tag}): {summary['url'] or 'no service URL'}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="deploy a stage: registry stack, image push, migrations, service stack, smoke test",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--stage", help=f"one of {', '.join(STAGES)} (required)")
    parser.add_argument(
        "--image-tag",
        default=os.environ.get("IMAGE_TAG") or None,
        help="immutable image tag, the git SHA (default: $IMAGE_TAG); required except for local",
    )
    parser.add_argument(
        "--certificate-arn",
        default=os.environ.get("CERTIFICATE_ARN") or None,
        help="ACM certificate ARN for an HTTPS listener (default: $CERTIFICATE_ARN); without it "
        "the stage is served over HTTP only. Required for prod, refused for local",
    )
    parser.add_argument(
        "--image-archive",
        type=Path,
        default=os.environ.get("IMAGE_ARCHIVE") or None,
        help="OCI archive of the image to push (default: $IMAGE_ARCHIVE; CI's built and scanned "
        "image); without it the image is built here for the pinned platform",
    )
    parser.add_argument(
        "--scan-report",
        type=Path,
        default=os.environ.get("SCAN_REPORT") or None,
        help="Trivy JSON report of --image-archive (default: $SCAN_REPORT); required with it",
    )
    parser.add_argument(
        "--alarm-subscription",
        default=os.environ.get("ALARM_SUBSCRIPTION") or None,
        help="e-mail address or https:// endpoint that receives the stage's alarms "
        "(default: $ALARM_SUBSCRIPTION)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="deploy into LocalStack with cdklocal (implied by LOCALSTACK_ENDPOINT)",
    )
    parser.set_defaults(func=run_deploy)
