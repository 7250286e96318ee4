"""Synthesize a stage the way `cdk synth` does (same factory, same cdk-nag plugin)."""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# jsii's Node start-up banner (Node 20 is past end of life here) would flood every test's output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

STAGES = ("local", "dev", "staging", "prod")
IMAGE_TAG = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Synthesized:
    stage: str
    outdir: Path
    # The exception app.synth() raised: cdk-nag findings fail synthesis through policy validation.
    error: Exception | None

    def template(self, stack: str) -> dict[str, Any]:
        """The template of `stack` ("registry" or "service"), read from the cloud assembly."""
        manifest = json.loads(
            (self.outdir / f"assembly-hangar-{self.stage}/manifest.json").read_text()
        )
        for artifact in manifest["artifacts"].values():
            properties = artifact.get("properties", {})
            if properties.get("stackName") == f"hangar-{self.stage}-{stack}":
                path = self.outdir / f"assembly-hangar-{self.stage}" / properties["templateFile"]
                return json.loads(path.read_text())
        raise AssertionError(f"no stack hangar-{self.stage}-{stack} in {self.outdir}")

    def template_files(self) -> list[Path]:
        return sorted((self.outdir / f"assembly-hangar-{self.stage}").glob("*.template.json"))


def synthesize(stage: str, outdir: Path) -> Synthesized:
    from aws_cdk import App

    from hangar_infra.app_factory import build_stage

    context = {"stage": stage} if stage == "local" else {"stage": stage, "imageTag": IMAGE_TAG}
    app = App(context=context, outdir=str(outdir))
    build_stage(app)
    try:
        app.synth()
    except RuntimeError as error:  # jsii surfaces the validation failure as RuntimeError
        return Synthesized(stage, outdir, error)
    return Synthesized(stage, outdir, None)
