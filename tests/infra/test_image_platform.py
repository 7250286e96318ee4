"""The task definitions run the image's platform, and a deploy runs its image by digest.

The platform is one setting ([tool.hangar] image-platform) that CI's build, `hangar deploy`'s build
and the task definitions read; these tests prove the three agree.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from aws_cdk import App

from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.deploy import image as cli_image
from hangar_infra import image as infra_image
from hangar_infra.app_factory import build_stage
from hangar_infra.synthesis import IMAGE_TAG, Synthesized, synthesize

pytestmark = pytest.mark.infra

DIGEST = "sha256:" + "ab" * 32
FARGATE_ARCHITECTURES = {"linux/amd64": "X86_64", "linux/arm64": "ARM64"}


def task_definitions(stage: Synthesized) -> dict[str, dict]:
    resources = stage.template("service")["Resources"]
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::ECS::TaskDefinition"}


def test_the_build_and_the_task_definitions_read_the_same_platform_setting() -> None:
    assert contract().image_platform == cli_image.image_platform()
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    # CI's build reads the contract through the same module (tests/unit/test_workflows.py runs it).
    assert "uv run --frozen python -m hangar.core.contract image-platform" in ci
    assert "platforms: ${{ steps.contract.outputs.platform }}" in ci


def test_every_task_definition_runs_the_pinned_platform(stage: Synthesized) -> None:
    expected = {
        "CpuArchitecture": FARGATE_ARCHITECTURES[cli_image.image_platform()],
        "OperatingSystemFamily": "LINUX",
    }
    definitions = task_definitions(stage)
    assert len(definitions) >= 3  # web, worker, migration
    for name, definition in definitions.items():
        assert definition["Properties"]["RuntimePlatform"] == expected, name


def test_the_task_definitions_follow_the_contracts_platform(tmp_path: Path) -> None:
    """The contract, not a copy of it, decides (a platform Fargate cannot run is refused by
    hangar.core.contract itself: tests/unit/test_contract.py)."""
    graviton = replace(contract(), image_platform="linux/arm64")
    definitions = task_definitions(synthesize("staging", tmp_path, service=graviton))
    assert {
        d["Properties"]["RuntimePlatform"]["CpuArchitecture"] for d in definitions.values()
    } == {"ARM64"}


def test_a_deploy_pins_the_image_by_digest(tmp_path: Path) -> None:
    context = {"stage": "staging", "imageTag": IMAGE_TAG, "imageDigest": DIGEST}
    app = App(context=context, outdir=str(tmp_path))
    build_stage(app)
    app.synth()
    template = json.dumps(Synthesized("staging", tmp_path, None).template("service"))
    assert f"@{DIGEST}" in template
    assert f":{IMAGE_TAG}" not in template


@pytest.mark.parametrize("digest", ["sha256:abc", "ab" * 32, f"sha512:{'ab' * 32}"])
def test_a_malformed_digest_is_refused(digest: str) -> None:
    with pytest.raises(infra_image.ImageSettingError, match="is not an image digest"):
        build_stage(App(context={"stage": "staging", "imageTag": IMAGE_TAG, "imageDigest": digest}))
