"""`make deploy`, the command the deploy workflow runs, end to end against LocalStack.

The `local` stage, given an image tag as CI gives one (the commit), goes through all five steps.
(It is the stage sized for LocalStack: the others empty their bucket on deletion with a Lambda
custom resource, which the host-mode LocalStack cannot run.) The free LocalStack has no ECR API,
ECS or ELBv2, so the image push, the migration task and the smoke test must each say they were
skipped and why; the two stacks must really deploy, with the image by that tag.
"""

import os
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config

from hangar.deploy import git
from hangar_infra.stage import stack_names

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deploy_run(localstack_endpoint: str) -> tuple[subprocess.CompletedProcess[str], str]:
    image_tag = git("rev-parse", "HEAD")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hangar.cli",
            "deploy",
            "--stage",
            "local",
            "--image-tag",
            image_tag,
        ],
        env={**os.environ, "LOCALSTACK_ENDPOINT": localstack_endpoint},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return result, image_tag


def test_make_deploy_runs_every_step_and_deploys_both_stacks(deploy_run, localstack_endpoint):
    result, image_tag = deploy_run
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    registry, service = stack_names("local")
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=localstack_endpoint,
        region_name="us-east-1",
        config=Config(connect_timeout=2, read_timeout=15),
    )
    for name in (registry, service):
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, name
    # The service stack runs the image by the tag the command was given, never `latest`.
    template = cloudformation.get_template(StackName=service)["TemplateBody"]
    assert f":{image_tag}" in str(template)
    assert ":latest" not in str(template)

    for step in ("1/5", "2/5", "4/5", "5/5"):
        assert f"==> {step}" in output, step


def test_steps_localstack_cannot_run_are_skipped_with_their_reason(deploy_run):
    result, _ = deploy_run
    output = result.stdout + result.stderr
    assert "skipped: " in output
    skipped = [line for line in output.splitlines() if "skipped:" in line]
    # The push (no ECR API), hence the migrations (they run the pushed image), and the smoke test.
    assert any("ECR" in line for line in skipped), skipped
    assert any("3/5" in line for line in skipped), skipped
    assert any("ELBv2" in line or "ServiceUrl" in line for line in skipped), skipped
