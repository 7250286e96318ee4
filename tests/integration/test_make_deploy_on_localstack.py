"""`make deploy`, the command the deploy jobs run, end to end against LocalStack.

The `local` stage, given an image tag as CI gives one (the commit), goes through all five steps.
(It is the stage sized for LocalStack: the others empty their bucket on deletion with a Lambda
custom resource, which the host-mode LocalStack cannot run.) The image is really built (buildx, the
pinned platform) and pushed with skopeo; the free LocalStack has no ECR API, so the push goes to the
OCI-layout registry that stands in for ECR, and the service stack must run exactly the digest that
registry holds. LocalStack has no ECS or ELBv2 either, so the migration task and the smoke test must
each say they were skipped and why; the two stacks must really deploy.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config

from hangar.core.contract import contract
from hangar.core.git import head_commit
from hangar.core.paths import STATE_DIR
from hangar.deploy import image

pytestmark = pytest.mark.integration
HANGAR = [sys.executable, "-m", "hangar.cli"]


def hangar_deploy_local(
    localstack_endpoint: str, image_tag: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
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
        env={**os.environ, "LOCALSTACK_ENDPOINT": localstack_endpoint, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.without_docker
def test_without_docker_the_registry_deploys_and_the_image_step_refuses(
    localstack_endpoint, without_docker
):
    """What a machine without Docker can deploy, it deploys (synth, the registry stack); the build
    it cannot do stops the deploy with one line saying so, not a traceback."""
    # An empty stand-in registry: an image an earlier test pushed for this commit needs no build.
    shutil.rmtree(image.Registry.local("local").repository, ignore_errors=True)
    result = hangar_deploy_local(localstack_endpoint, head_commit(), **without_docker)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    assert re.search(r"^<== 1/5.*: done in", output, re.MULTILINE), output[-4000:]
    assert "error: building the image needs Docker, and no Docker engine answers." in output
    assert "hangar docker provision" in output
    assert "Traceback" not in output
    assert "==> 3/5" not in output
    registry, _ = contract().stack_names("local")
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=localstack_endpoint,
        region_name="us-east-1",
        config=Config(connect_timeout=2, read_timeout=15),
    )
    [stack] = cloudformation.describe_stacks(StackName=registry)["Stacks"]
    assert stack["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


@pytest.fixture(scope="module")
def deploy_run(
    localstack_endpoint: str, docker_engine: None
) -> tuple[subprocess.CompletedProcess[str], str]:
    image_tag = head_commit()
    # An empty stand-in registry: the push must happen in this run, not be found from a past one.
    shutil.rmtree(image.Registry.local("local").repository, ignore_errors=True)
    result = hangar_deploy_local(localstack_endpoint, image_tag)
    return result, image_tag


def test_make_deploy_runs_every_step_and_deploys_both_stacks(deploy_run, localstack_endpoint):
    result, _ = deploy_run
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    registry, service = contract().stack_names("local")
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=localstack_endpoint,
        region_name="us-east-1",
        config=Config(connect_timeout=2, read_timeout=15),
    )
    for name in (registry, service):
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, name
    for step in ("1/5", "2/5", "4/5", "5/5"):
        assert f"==> {step}" in output, step


def test_the_service_runs_exactly_the_digest_that_was_pushed(deploy_run, localstack_endpoint):
    result, image_tag = deploy_run
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    pushed = image.remote_image(image.Registry.local("local"), image_tag)
    assert pushed is not None
    assert pushed.platform == image.image_platform()
    built = image.read_archive(STATE_DIR / "images" / f"{image_tag}.oci.tar")
    assert pushed.digest == built.digest  # skopeo preserved the digest of the built image
    assert f"= {pushed.digest}" in result.stdout

    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=localstack_endpoint,
        region_name="us-east-1",
        config=Config(connect_timeout=2, read_timeout=15),
    )
    template = cloudformation.get_template(StackName=contract().stack_names("local")[1])[
        "TemplateBody"
    ]
    template = template if isinstance(template, dict) else json.loads(template)
    images = [
        json.dumps(container["Image"])
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
        for container in resource["Properties"]["ContainerDefinitions"]
    ]
    assert len(images) >= 3  # web, worker, migration
    for reference in images:
        assert f"@{pushed.digest}" in reference
        assert f":{image_tag}" not in reference


def test_steps_localstack_cannot_run_are_skipped_with_their_reason(deploy_run):
    result, _ = deploy_run
    output = result.stdout + result.stderr
    assert "skipped: " in output
    skipped = [line for line in output.splitlines() if "skipped:" in line]
    # The migration task (no ECS) and the smoke test (no ELBv2); never the push.
    assert any("ECS" in line or "Migration" in line for line in skipped), skipped
    assert any("ELBv2" in line or "ServiceUrl" in line for line in skipped), skipped
    assert "stands in for it" in output  # the push went to the local registry, saying so
    # Known from the stack's placeholder URL: no request waits on a load balancer that is absent.
    assert "attempt 1/" not in output
