"""`hangar deploy`: what it refuses, what it asks CDK and ECS for, and how it judges the result."""

import argparse
import dataclasses
import http.server
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest

from hangar.core import git
from hangar.core.errors import HangarError
from hangar.core.stage_interface import DELETION_PROTECTION
from hangar.deploy import stage as deploy
from hangar.deploy import stage_cdk, stage_migrations, stage_smoke_test, stage_target
from hangar.deploy.stage_target import Skipped, Target

# The AWS names here are the declaring project's (tests/declared_project.py), not the checkout's.
pytestmark = pytest.mark.usefixtures("declared_contract")

SHA = "0123456789abcdef0123456789abcdef01234567"
STAGING = Target(stage="staging", image_tag=SHA, region="us-east-1", endpoint=None)
LOCAL = Target(stage="local", image_tag="local", region="us-east-1", endpoint="http://127.0.0.1:1")


# --- input ---------------------------------------------------------------------------------------


def test_a_real_stage_without_an_image_tag_is_refused_with_the_command_to_run() -> None:
    with pytest.raises(HangarError) as error:
        stage_target.resolve_image_tag("staging", None, local=False)
    assert "needs an image tag" in error.value.message
    assert error.value.hint is not None
    assert "IMAGE_TAG=$(git rev-parse HEAD)" in error.value.hint


def test_latest_is_refused_with_the_reason() -> None:
    with pytest.raises(HangarError, match="'latest' is refused: a moving tag"):
        stage_target.resolve_image_tag("prod", "latest", local=False)


@pytest.mark.parametrize(
    "tag", ["-leading-dash", "has space", "a" * 129, "sha:colon", SHA[:12], SHA.upper(), "v1.2.3"]
)
def test_anything_but_a_full_commit_sha_is_refused_up_front(tag: str) -> None:
    with pytest.raises(HangarError, match="is not the full SHA of a commit"):
        stage_target.resolve_image_tag("staging", tag, local=False)


def test_the_local_stage_in_localstack_defaults_to_its_fixed_tag() -> None:
    assert stage_target.resolve_image_tag("local", None, local=True) == "local"
    with pytest.raises(HangarError, match="needs an image tag"):
        stage_target.resolve_image_tag("local", None, local=False)


def test_a_git_sha_is_accepted_as_it_is() -> None:
    assert stage_target.resolve_image_tag("staging", SHA, local=False) == SHA


def test_localstack_is_targeted_by_flag_by_endpoint_variable_or_by_the_local_stage() -> None:
    assert deploy.resolve_endpoint("staging", False, {}) is None
    assert deploy.resolve_endpoint("staging", True, {}) == "http://127.0.0.1:4566"
    assert deploy.resolve_endpoint("local", False, {}) == "http://127.0.0.1:4566"
    variable = {"LOCALSTACK_ENDPOINT": "http://h:4599/"}
    assert deploy.resolve_endpoint("staging", False, variable) == "http://h:4599"


def test_the_local_endpoint_honours_hangar_localstack_port() -> None:
    port = {"HANGAR_LOCALSTACK_PORT": "4613"}
    assert deploy.resolve_endpoint("local", False, port) == "http://127.0.0.1:4613"
    assert deploy.resolve_endpoint("staging", True, port) == "http://127.0.0.1:4613"
    # The port names where LocalStack runs, not a wish to deploy there: AWS stays AWS.
    assert deploy.resolve_endpoint("staging", False, port) is None


def test_an_unusable_endpoint_is_refused_naming_the_variable() -> None:
    with pytest.raises(HangarError, match="LOCALSTACK_ENDPOINT"):
        deploy.resolve_endpoint("local", False, {"LOCALSTACK_ENDPOINT": "127.0.0.1:4566"})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", "--stage", "staging"], "stage 'staging' needs an image tag"),
        (["deploy", "--stage", "prod", "--image-tag", "latest"], "'latest' is refused"),
    ],
)
def test_the_command_fails_before_touching_anything(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMAGE_TAG", raising=False)
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    # Had validation not come first, this would be called (and fail the test loudly).
    monkeypatch.setattr(stage_cdk, "cdk_synth", pytest.fail)
    parser = argparse.ArgumentParser(prog="hangar")
    deploy.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    with pytest.raises(HangarError, match=message):
        args.func(args)


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def test_prod_without_a_certificate_is_refused_saying_what_to_pass() -> None:
    with pytest.raises(HangarError, match="stage 'prod' must serve HTTPS") as error:
        stage_target.resolve_certificate_arn("prod", None)
    assert error.value.hint is not None
    assert "CERTIFICATE_ARN=arn:aws:acm:<region>:<account>:certificate/<id>" in error.value.hint
    with pytest.raises(HangarError, match="must serve HTTPS"):
        stage_target.resolve_certificate_arn("prod", "  ")


def test_the_local_stage_refuses_a_certificate() -> None:
    with pytest.raises(HangarError, match="local stage cannot use a certificate"):
        stage_target.resolve_certificate_arn("local", CERTIFICATE)
    assert stage_target.resolve_certificate_arn("local", None) is None


def test_other_stages_may_run_http_only_or_take_the_certificate_as_given() -> None:
    assert stage_target.resolve_certificate_arn("staging", None) is None
    assert stage_target.resolve_certificate_arn("dev", "") is None
    assert stage_target.resolve_certificate_arn("staging", f" {CERTIFICATE} ") == CERTIFICATE
    assert stage_target.resolve_certificate_arn("prod", CERTIFICATE) == CERTIFICATE


def parse_deploy(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hangar")
    deploy.register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_prod_without_a_certificate_fails_before_touching_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CERTIFICATE_ARN", raising=False)
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    monkeypatch.setattr(stage_cdk, "cdk_synth", pytest.fail)
    args = parse_deploy(["deploy", "--stage", "prod", "--image-tag", SHA])
    with pytest.raises(HangarError, match="stage 'prod' must serve HTTPS"):
        args.func(args)


@pytest.mark.parametrize("how", ["option", "variable"])
def test_the_certificate_reaches_the_deploy_from_the_option_or_certificate_arn(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCALSTACK_ENDPOINT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    argv = ["deploy", "--stage", "prod", "--image-tag", SHA]
    if how == "option":
        monkeypatch.delenv("CERTIFICATE_ARN", raising=False)
        argv += ["--certificate-arn", CERTIFICATE]
    else:
        monkeypatch.setenv("CERTIFICATE_ARN", CERTIFICATE)
    deployed: list[Target] = []

    def fake_deploy(target: Target) -> dict[str, str]:
        deployed.append(target)
        return {"stage": target.stage, "image tag": target.image_tag, "url": "https://x"}

    monkeypatch.setattr(deploy, "deploy", fake_deploy)
    monkeypatch.setattr(deploy, "check_commit_matches", lambda image_tag: None)
    args = parse_deploy(argv)
    assert args.func(args) == 0
    assert [target.certificate_arn for target in deployed] == [CERTIFICATE]


# --- CDK invocation ------------------------------------------------------------------------------


def test_the_stage_is_synthesized_once_with_its_image_tag(tmp_path: Path) -> None:
    command = stage_cdk.cdk_synth_command(STAGING, tmp_path / "cdk.out")
    assert Path(command[0]).name == "cdk"
    assert command[1] == "synth"
    assert "stage=staging" in command
    assert f"imageTag={SHA}" in command
    assert command[command.index("--output") + 1] == str(tmp_path / "cdk.out")
    # This interpreter's venv, not cdk.json's `../.venv` (absent in the dev container).
    assert command[command.index("--app") + 1] == f"{sys.executable} app.py"


def test_the_certificate_is_synthesized_into_the_assembly_both_stacks_deploy(
    tmp_path: Path,
) -> None:
    https = Target(
        stage="prod", image_tag=SHA, region="us-east-1", endpoint=None, certificate_arn=CERTIFICATE
    )
    command = stage_cdk.cdk_synth_command(https, tmp_path / "cdk.out")
    assert command[command.index(f"certificateArn={CERTIFICATE}") - 1] == "-c"
    assert f"imageTag={SHA}" in command
    # Without one, no certificateArn context at all: the app then builds the HTTP-only listener.
    http_only = stage_cdk.cdk_synth_command(STAGING, tmp_path / "cdk.out")
    assert not any(argument.startswith("certificateArn") for argument in http_only)


def test_each_stack_is_deployed_alone_from_that_assembly(tmp_path: Path) -> None:
    command = stage_cdk.cdk_deploy_command(STAGING, tmp_path / "cdk.out", "Service", tmp_path / "o")
    assert command[1:5] == ["deploy", "--app", str(tmp_path / "cdk.out"), "hangar-staging/Service"]
    assert "--exclusively" in command
    assert command[command.index("--outputs-file") + 1] == str(tmp_path / "o")
    # Staging's own CDK bootstrap, not the account's default one.
    assert command[command.index("--toolkit-stack-name") + 1] == "CDKToolkit-hangarstg"


PROD = Target(stage="prod", image_tag=SHA, region="us-east-1", endpoint=None)


def assembly_with(tmp_path: Path, parameters: dict[str, object]) -> Path:
    """A cloud assembly whose prod service stack declares `parameters`, nested as a Stage's."""
    nested = tmp_path / "cdk.out" / "assembly-hangar-prod"
    nested.mkdir(parents=True)
    (nested / "service.template.json").write_text(json.dumps({"Parameters": parameters}))
    stack = {"stackName": "hangar-prod-service", "templateFile": "service.template.json"}
    manifest = {"artifacts": {"Service": {"type": "aws:cloudformation:stack", "properties": stack}}}
    (nested / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path / "cdk.out"


def recorded_service_deploys(
    monkeypatch: pytest.MonkeyPatch, assembly: Path, *, created: bool
) -> list[dict[str, str]]:
    deploys: list[dict[str, str]] = []

    def cdk_deploy(
        target: Target, at: Path, stack: str, parameters: dict[str, str]
    ) -> dict[str, str]:
        assert (target, at, stack) == (PROD, assembly, "Service")
        deploys.append(parameters)
        return {"ServiceUrl": "https://hangar.example.com"}

    monkeypatch.setattr(stage_cdk, "cdk_deploy", cdk_deploy)
    outputs = stage_cdk.deploy_service(PROD, assembly, "repo@sha256:1", created=created)
    assert outputs == {"ServiceUrl": "https://hangar.example.com"}
    return deploys


PROTECTED = {DELETION_PROTECTION: {"Type": "String", "Default": "false"}}


def test_deletion_protection_comes_on_only_once_the_first_create_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first create runs unprotected (a failed one must be able to delete what it made); the
    deploy turns protection on right after it succeeded."""
    assembly = assembly_with(tmp_path, PROTECTED)
    assert recorded_service_deploys(monkeypatch, assembly, created=False) == [
        {},
        {"DeletionProtection": "true"},
    ]


def test_a_stack_that_exists_is_deployed_protected_in_one_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assembly = assembly_with(tmp_path, PROTECTED)
    assert recorded_service_deploys(monkeypatch, assembly, created=True) == [
        {"DeletionProtection": "true"}
    ]


def test_a_stage_without_protection_gets_no_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assembly = assembly_with(tmp_path, {})
    assert recorded_service_deploys(monkeypatch, assembly, created=False) == [{}]
    assert recorded_service_deploys(monkeypatch, assembly, created=True) == [{}]


def test_stage_interface_reach_cdk_deploy(tmp_path: Path) -> None:
    command = stage_cdk.cdk_deploy_command(
        PROD, tmp_path, "Service", tmp_path / "o", {"DeletionProtection": "true"}
    )
    assert "--parameters=DeletionProtection=true" in command
    assert not any(
        a.startswith("--parameters")
        for a in stage_cdk.cdk_deploy_command(PROD, tmp_path, "Service", tmp_path / "o")
    )


def test_localstack_deploys_go_through_cdklocal_with_the_gateway_for_every_service(
    tmp_path: Path,
) -> None:
    command = stage_cdk.cdk_deploy_command(LOCAL, tmp_path, "Registry", tmp_path / "o")
    assert Path(command[0]).name == "cdklocal"
    env = stage_cdk.cdk_environment(LOCAL)
    assert env["AWS_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:1"
    assert env["AWS_ACCESS_KEY_ID"] == "test"


def test_real_aws_deploys_keep_the_callers_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    env = stage_cdk.cdk_environment(STAGING)
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAREAL"
    assert "AWS_ENDPOINT_URL" not in env
    assert env["AWS_REGION"] == "us-east-1"


# --- missing outputs and services ----------------------------------------------------------------


def test_a_missing_output_is_a_skip_in_localstack_but_an_error_on_aws() -> None:
    with pytest.raises(Skipped, match="no RepositoryUri output"):
        stage_target.require_output(LOCAL, {}, "RepositoryUri")
    with pytest.raises(HangarError, match="no RepositoryUri output"):
        stage_target.require_output(STAGING, {"RepositoryName": "x"}, "RepositoryUri")
    stage_target.require_output(STAGING, {"RepositoryUri": "x"}, "RepositoryUri")


# --- migrations ----------------------------------------------------------------------------------

DESCRIBED_MIGRATION = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/hangar-staging-migrate:7",
    "family": "hangar-staging-migrate",
    "revision": 7,
    "status": "ACTIVE",
    "taskRoleArn": "arn:aws:iam::1:role/task",
    "executionRoleArn": "arn:aws:iam::1:role/exec",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "registeredAt": "2026-01-01T00:00:00Z",
    "compatibilities": ["EC2", "FARGATE"],
    "containerDefinitions": [
        {
            "name": "app",
            "image": "1.dkr.ecr.us-east-1.amazonaws.com/hangar-staging:oldsha",
            "command": ["python", "manage.py", "migrate", "--noinput"],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:secret"}],
        }
    ],
}


def test_the_migration_runs_the_new_image_with_everything_else_kept() -> None:
    new_image = f"1.dkr.ecr.us-east-1.amazonaws.com/hangar-staging:{SHA}"
    definition = stage_migrations.migration_task_definition(DESCRIBED_MIGRATION, new_image)
    container = definition["containerDefinitions"][0]
    assert container["image"] == new_image
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert container["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": "arn:secret"}]
    assert definition["family"] == "hangar-staging-migrate"
    assert definition["executionRoleArn"] == "arn:aws:iam::1:role/exec"
    # Read-only fields would make RegisterTaskDefinition reject the request.
    for read_only in ("taskDefinitionArn", "revision", "status", "registeredAt", "compatibilities"):
        assert read_only not in definition
    # The described definition itself is left alone.
    assert DESCRIBED_MIGRATION["containerDefinitions"][0]["image"].endswith(":oldsha")  # type: ignore[index]


def test_a_migration_task_definition_with_sidecars_is_refused() -> None:
    described = {**DESCRIBED_MIGRATION, "containerDefinitions": [{"name": "a"}, {"name": "b"}]}
    with pytest.raises(HangarError, match="2 containers; expected exactly one"):
        stage_migrations.migration_task_definition(described, "image")


@pytest.mark.parametrize(
    ("task", "succeeded", "account"),
    [
        ({"containers": [{"name": "app", "exitCode": 0}]}, True, "every container exited 0"),
        (
            {
                "containers": [{"name": "app", "exitCode": 1}],
                "stoppedReason": "Essential container in task exited",
            },
            False,
            "app exited 1 (stopped: Essential container in task exited)",
        ),
        (
            {
                "containers": [{"name": "app", "reason": "CannotPullContainerError"}],
                "stoppedReason": "Task failed to start",
            },
            False,
            "app exited (no code) CannotPullContainerError (stopped: Task failed to start)",
        ),
        ({"containers": []}, False, "no container ran (stopped: no reason given)"),
    ],
)
def test_a_migration_task_succeeds_only_when_every_container_exited_zero(
    task: dict[str, object], succeeded: bool, account: str
) -> None:
    assert stage_migrations.task_outcome(task) == (succeeded, account)


# --- smoke test against a real HTTP server -------------------------------------------------------


class Answers(http.server.BaseHTTPRequestHandler):
    statuses: ClassVar[dict[str, list[int]]] = {}

    def do_GET(self) -> None:
        queue = self.statuses.get(self.path, [404])
        status = queue.pop(0) if len(queue) > 1 else queue[0]
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"database": "down"}' if status != 200 else b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], int]) -> str:
    return f"http://127.0.0.1:{serve_http(Answers)}"


def test_the_smoke_test_waits_for_readiness(server: str) -> None:
    Answers.statuses = {"/healthz": [200], "/readyz": [503, 503, 200]}
    stage_smoke_test.smoke_test(STAGING, {"ServiceUrl": server + "/"}, attempts=3, interval=0)


def test_the_smoke_test_fails_with_what_readyz_said(server: str) -> None:
    Answers.statuses = {"/healthz": [200], "/readyz": [503]}
    with pytest.raises(HangarError, match=r'/readyz answered 503 \{"database": "down"\}'):
        stage_smoke_test.smoke_test(STAGING, {"ServiceUrl": server}, attempts=2, interval=0)


def test_the_smoke_test_asks_the_contracts_paths(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = dataclasses.replace(
        stage_smoke_test.contract(), health_path="/ping", readiness_path="/ready"
    )
    monkeypatch.setattr(stage_smoke_test, "contract", lambda: notes)
    Answers.statuses = {"/ping": [200], "/ready": [503]}
    with pytest.raises(HangarError, match=r"/ready answered 503") as error:
        stage_smoke_test.smoke_test(STAGING, {"ServiceUrl": server}, attempts=1, interval=0)
    assert str(error.value.hint).startswith("/ready names")


def test_an_unreachable_load_balancer_is_a_skip_only_in_localstack(server: str) -> None:
    closed = "http://127.0.0.1:9"  # discard port: nothing listens on it here
    with pytest.raises(Skipped, match="does not emulate ELBv2"):
        stage_smoke_test.smoke_test(LOCAL, {"ServiceUrl": closed}, attempts=1, interval=0)
    with pytest.raises(HangarError, match="/healthz answered no answer"):
        stage_smoke_test.smoke_test(STAGING, {"ServiceUrl": closed}, attempts=1, interval=0)


def test_localstacks_placeholder_url_is_a_skip_without_a_single_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LocalStack's CloudFormation answers "unknown" for a load balancer it did not create: the
    smoke test says so at once instead of retrying for a minute; on AWS that URL is a failure."""
    requested: list[str] = []
    monkeypatch.setattr(
        stage_smoke_test, "http_get", lambda url: (requested.append(url), (None, "no"))[1]
    )
    placeholder = {"ServiceUrl": "http://unknown"}
    with pytest.raises(Skipped, match=r"ServiceUrl is http://unknown: .* does not emulate ELBv2"):
        stage_smoke_test.smoke_test(LOCAL, placeholder, attempts=3, interval=60)
    assert requested == []
    with pytest.raises(HangarError, match="/healthz answered no answer"):
        stage_smoke_test.smoke_test(STAGING, placeholder, attempts=1, interval=0)
    assert requested == ["http://unknown/healthz"]


def test_a_failing_domain_url_names_the_dns_record_to_create() -> None:
    closed = "https://127.0.0.1:9"
    outputs = {"ServiceUrl": closed, "LoadBalancerDnsName": "hangar-alb-1.elb.amazonaws.com"}
    with pytest.raises(HangarError) as error:
        stage_smoke_test.smoke_test(STAGING, outputs, attempts=1, interval=0)
    assert error.value.hint is not None
    assert "127.0.0.1 → hangar-alb-1.elb.amazonaws.com" in error.value.hint
    # Through the load balancer's own name, DNS is not the problem.
    same = {"ServiceUrl": "http://Hangar-ALB-1.elb.amazonaws.com"}
    assert "CNAME" not in stage_smoke_test.smoke_test_hint(
        {**same, "LoadBalancerDnsName": "Hangar-ALB-1.elb.amazonaws.com"}
    )


def test_a_non_http_service_url_is_an_error() -> None:
    with pytest.raises(HangarError, match="not an http"):
        stage_smoke_test.http_get("file:///etc/passwd")


# --- image provenance ----------------------------------------------------------------------------


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout.strip()

    run("init", "-q")
    (tmp_path / "file").write_text("one\n")
    run("add", "file")
    run("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    monkeypatch.setattr(git, "ROOT", tmp_path)
    return run("rev-parse", "HEAD")


def test_an_image_is_only_built_from_the_commit_it_is_named_after(repository: str) -> None:
    stage_target.check_commit_matches(repository)
    with pytest.raises(HangarError, match="is not the checked-out commit"):
        stage_target.check_commit_matches(repository[:12])
    with pytest.raises(HangarError, match="is not the checked-out commit"):
        stage_target.check_commit_matches(SHA)
    with pytest.raises(HangarError, match="is not the checked-out commit"):
        stage_target.check_commit_matches(repository[:4])


def test_uncommitted_changes_are_not_shipped_under_a_commit_tag(
    repository: str, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("two\n")
    with pytest.raises(HangarError, match="uncommitted changes"):
        stage_target.check_commit_matches(repository)


# --- GitHub job summary --------------------------------------------------------------------------


def test_github_gets_a_summary_and_step_outputs(tmp_path: Path) -> None:
    summary_file, output_file = tmp_path / "summary.md", tmp_path / "output"
    summary = {"stage": "staging", "image tag": SHA, "image": "repo:" + SHA, "url": "http://alb"}
    deploy.write_github_summary(
        summary, {"GITHUB_STEP_SUMMARY": str(summary_file), "GITHUB_OUTPUT": str(output_file)}
    )
    assert "## Deployed staging" in summary_file.read_text()
    assert f"| image tag | {SHA} |" in summary_file.read_text()
    assert output_file.read_text() == f"url=http://alb\nimage-tag={SHA}\n"
