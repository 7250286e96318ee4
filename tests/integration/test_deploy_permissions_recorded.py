"""Every AWS call `hangar deploy` really sends, recorded by LocalStack, is one the deploy role may
make.

LocalStack runs here with scripts/localstack/request_recorder.py, which writes each request it
serves (service, operation, parameters, signing access key) from LocalStack's own request log.
`hangar bootstrap-aws --local` runs first, then the local stage's own bootstrap (an administrator's
job: their calls are not the deploy role's), then `hangar deploy --stage local`, as separate
processes exactly as a user or CI runs them, the cdk CLI (Node) and the watcher included. The
calls the deploy signs with the caller's own credentials are the deploy role's on AWS: each is
evaluated against `github_oidc.deploy_permissions`, and every denied one is named. Calls signed
with keys STS issued are made by the CDK bootstrap roles the deploy role assumed (their policies
are the stage's bootstrap template's, hangar.cdk.bootstrap_template); the assumption itself is
evaluated. What only real AWS serves (ECS, ELBv2) is covered
by tests/unit/test_deploy_permissions.py (and, for `hangar status`, tests/unit/test_status.py).

The day-two commands run after the deploy the same way: `status`, `stage-logs` and `releases` must
need nothing beyond the stage's read-only role (`github_oidc.readonly_permissions`), and a role
without it (the pull requests' diff role) must be denied every call; `rollback` is the deploy
role's, and the read-only role cannot record a release.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from oci_images import oci_archive

from hangar.aws import execution_policy, github_oidc
from hangar.aws.permissions import (
    ApiCall,
    Decision,
    evaluate,
    read_request_log,
    unique_requests,
)
from hangar.cdk import bootstrap_template
from hangar.cdk import driver as cdk
from hangar.core import ports
from hangar.core.paths import ROOT
from hangar.core.stages import LOCAL_STAGE, LOCALSTACK_ACCOUNT
from hangar.deploy import image, releases
from hangar.deploy.releases import Release
from hangar.localstack import commands as localstack
from hangar.localstack import host as localstack_host
from hangar.localstack.endpoint import parse_endpoint

pytestmark = pytest.mark.integration

RECORDER = ROOT / "scripts" / "localstack" / "request_recorder.py"
REGION = "us-east-1"
CALLER_KEY = "test"  # the credentials the tooling signs with against LocalStack


def hangar(endpoint: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against `endpoint`, named by its port alone (HANGAR_LOCALSTACK_PORT), as a user
    with LocalStack on a port of their own does: both commands must find it there."""
    env = {key: value for key, value in os.environ.items() if key != "LOCALSTACK_ENDPOINT"}
    env |= {
        "HANGAR_LOCALSTACK_PORT": str(parse_endpoint(endpoint, "test").port),
        "AWS_REGION": REGION,
    }
    return subprocess.run(
        [sys.executable, "-m", "hangar.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def recording_localstack(
    localstack_host_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """A LocalStack of its own on a spare port, recording every request into a JSON-lines file."""
    scratch = tmp_path_factory.mktemp("recording-localstack")
    endpoint = parse_endpoint(f"http://127.0.0.1:{ports.spare_port()}", "test")
    request_log = scratch / "requests.jsonl"
    log = scratch / "localstack.log"
    process = subprocess.Popen(
        [str(localstack_host_venv), str(RECORDER), str(request_log)],
        env=localstack_host.runtime_env(endpoint, scratch / "filesystem"),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not localstack.is_healthy(endpoint.url):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the recording LocalStack did not become healthy"
            time.sleep(0.25)
        yield endpoint.url, request_log
    finally:
        localstack_host.terminate(process.pid)


@pytest.fixture(scope="module")
def phases(
    recording_localstack: tuple[str, Path],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The requests of `bootstrap-aws` and the local stage's bootstrap, then those of `deploy`."""
    endpoint, request_log = recording_localstack
    # No GitHub here: the subject prefix is given, and the settings are printed, not applied.
    bootstrap = hangar(
        endpoint,
        "bootstrap-aws",
        "--github-repo",
        "acme/hangar",
        "--oidc-subject-prefix",
        "repo:acme/hangar",
        "--local",
    )
    assert bootstrap.returncode == 0, (bootstrap.stdout + bootstrap.stderr)[-4000:]
    cdk.bootstrap(LOCALSTACK_ACCOUNT, REGION, endpoint, LOCAL_STAGE)
    bootstrap_phase = read_request_log(request_log)
    deploy = hangar(endpoint, "deploy", "--stage", LOCAL_STAGE)
    assert deploy.returncode == 0, (deploy.stdout + deploy.stderr)[-4000:]
    return bootstrap_phase, read_request_log(request_log, start=len(bootstrap_phase))


@pytest.fixture(scope="module")
def deploy_phase(
    phases: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    return phases[1]


@pytest.mark.parametrize("stage", bootstrap_template.cloud_stages())
def test_each_stage_gets_its_own_bootstrap_with_the_generated_policy_and_scoped_template(
    phases: tuple[list[dict[str, Any]], list[dict[str, Any]]], stage: str
) -> None:
    """Every stage deployed to AWS, `dev` included (it had no bootstrap before)."""
    bootstrap_phase, _ = phases
    qualifier = bootstrap_template.stage_qualifier(stage)
    toolkit = bootstrap_template.toolkit_stack_name(qualifier)
    toolkit_change_sets = [
        e["params"]
        for e in bootstrap_phase
        if e["operation"] == "CreateChangeSet" and e["params"].get("StackName") == toolkit
    ]
    assert toolkit_change_sets, f"cdk bootstrap created no change set of {toolkit}"
    change_set = toolkit_change_sets[-1]
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in change_set["Parameters"]}
    assert parameters["CloudFormationExecutionPolicies"] == (
        f"arn:aws:iam::{LOCALSTACK_ACCOUNT}:policy/{execution_policy.policy_name(stage)}"
    )
    assert parameters["Qualifier"] == qualifier
    # The template handed to CloudFormation is the scoped one: its deploy role's stack statements
    # name the stage's stacks, and it holds the stage's boundary.
    assert bootstrap_template.stage_stacks(stage) in change_set["TemplateBody"]
    assert bootstrap_template.STAGE_BOUNDARY in change_set["TemplateBody"]


def test_the_recorder_saw_the_cdk_cli_and_the_watcher(deploy_phase: list[dict[str, Any]]) -> None:
    operations = {(e["service"], e["operation"]) for e in deploy_phase}
    # The CLI's change sets (Node, through an assumed bootstrap role) and the watcher's polls.
    assert ("cloudformation", "ExecuteChangeSet") in operations
    assert ("cloudformation", "DescribeStackEvents") in operations
    assert ("sts", "AssumeRole") in operations


def test_every_call_the_deploy_role_makes_is_allowed_by_its_policy(
    deploy_phase: list[dict[str, Any]],
) -> None:
    calls = [ApiCall.from_recorded(e) for e in deploy_phase if e["access_key"] == CALLER_KEY]
    policy = github_oidc.deploy_permissions(LOCALSTACK_ACCOUNT, REGION, LOCAL_STAGE)
    requests = unique_requests(calls, account=LOCALSTACK_ACCOUNT, region=REGION)
    principal = f"arn:aws:sts::{LOCALSTACK_ACCOUNT}:assumed-role/hangar-github-deploy/GitHubActions"

    decisions = evaluate(
        {"hangar": policy}, list(requests), principal=principal, account=LOCALSTACK_ACCOUNT
    )

    refused = [
        f"  {d.decision}: {d.request} (made {len(requests[d.request])}x) {d.detail}".rstrip()
        for d in decisions
        if not d.allowed
    ]
    assert not refused, "the deploy role would be denied:\n" + "\n".join(refused)
    assert any(d.request.action == "cloudformation:DescribeStackEvents" for d in decisions)


def test_every_other_signer_is_a_role_the_deploy_role_assumed(
    deploy_phase: list[dict[str, Any]],
) -> None:
    issued = {e["issued_access_key"] for e in deploy_phase if e["issued_access_key"]}
    # LocalStack's CloudFormation reads the template it was handed from S3 with a key of its own.
    internal = {"injectedaccesskey"}
    signers = {e["access_key"] for e in deploy_phase} - {CALLER_KEY} - internal
    assert signers <= issued, f"calls signed by unknown credentials: {signers - issued}"


# --- day two: status, logs, releases, rollback ---------------------------------------------------
DAY_TWO = {
    "status": ["status", "--stage", LOCAL_STAGE],
    "logs": ["stage-logs", "--stage", LOCAL_STAGE, "--since", "1h"],
    "releases": ["releases", "--stage", LOCAL_STAGE],
    "rollback": ["rollback", "--stage", LOCAL_STAGE],
}
READ_ONLY_COMMANDS = ("status", "logs", "releases")


@pytest.fixture(scope="module")
def day_two_phases(
    recording_localstack: tuple[str, Path],
    phases: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, list[dict[str, Any]]]:
    """The requests of each day-two command, run after the deploy, with two releases recorded
    whose images the stage's registry holds (pushed as a deploy pushes them)."""
    endpoint, request_log = recording_localstack
    scratch = tmp_path_factory.mktemp("day-two-images")
    ssm = boto3.client(
        "ssm",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CALLER_KEY,
        aws_secret_access_key=CALLER_KEY,
    )
    registry = image.Registry.local(LOCAL_STAGE)
    for at, sha in (("20261201T100000Z", "1a" * 20), ("20261202T100000Z", "2b" * 20)):
        archive = oci_archive(scratch / f"{sha}.oci.tar", f"{sha}-{time.time_ns()}")
        digest = image.publish(registry, sha, archive, lambda: pytest.fail("no build"))
        migrations = {"orders": "0001_initial"}
        releases.record(ssm, LOCAL_STAGE, Release(sha, digest, at, "alice", "", True, migrations))
    recorded = {}
    for command, argv in DAY_TWO.items():
        start = len(read_request_log(request_log))
        result = hangar(endpoint, *argv)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        recorded[command] = read_request_log(request_log, start=start)
    return recorded


def decide(entries: list[dict[str, Any]], policy: dict[str, Any]) -> list[Decision]:
    calls = [ApiCall.from_recorded(e) for e in entries if e["access_key"] == CALLER_KEY]
    requests = list(unique_requests(calls, account=LOCALSTACK_ACCOUNT, region=REGION))
    assert requests, "the command made no call with the caller's credentials"
    principal = f"arn:aws:sts::{LOCALSTACK_ACCOUNT}:assumed-role/somebody/session"
    return evaluate({"hangar": policy}, requests, principal=principal, account=LOCALSTACK_ACCOUNT)


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS)
def test_each_read_only_command_needs_the_read_only_role_and_no_more(
    day_two_phases: dict[str, list[dict[str, Any]]], command: str
) -> None:
    readonly = github_oidc.readonly_permissions(LOCALSTACK_ACCOUNT, REGION, LOCAL_STAGE)
    refused = [str(d) for d in decide(day_two_phases[command], readonly) if not d.allowed]
    assert not refused, f"the read-only role would be denied: {refused}"
    # The pull requests' diff role has none of it.
    other = github_oidc.diff_permissions(LOCALSTACK_ACCOUNT, REGION, github_oidc.DIFF_STAGE)
    allowed = [str(d.request) for d in decide(day_two_phases[command], other) if d.allowed]
    assert not allowed, f"a role without these permissions was allowed: {allowed}"


def test_the_rollback_is_the_deploy_roles_and_the_read_only_role_cannot_record_one(
    day_two_phases: dict[str, list[dict[str, Any]]],
) -> None:
    entries = day_two_phases["rollback"]
    assert ("ssm", "PutParameter") in {(e["service"], e["operation"]) for e in entries}
    deploy_role = github_oidc.deploy_permissions(LOCALSTACK_ACCOUNT, REGION, LOCAL_STAGE)
    refused = [str(d) for d in decide(entries, deploy_role) if not d.allowed]
    assert not refused, f"the deploy role would be denied: {refused}"
    readonly = github_oidc.readonly_permissions(LOCALSTACK_ACCOUNT, REGION, LOCAL_STAGE)
    denied = {d.request.action for d in decide(entries, readonly) if not d.allowed}
    assert "ssm:PutParameter" in denied
