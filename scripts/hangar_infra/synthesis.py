"""Synthesize a stage the way `cdk synth` does (same factory, same cdk-nag plugin), into a cloud
assembly the checks read: hangar.testing's platform checks on the project, Hangar's tests/infra."""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hangar.core.contract import Contract, contract

# jsii's Node start-up banner (Node 20 is past end of life here) would flood every test's output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

IMAGE_TAG = "0123456789abcdef0123456789abcdef01234567"
CERTIFICATE_ARN = (
    "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
)
# What the tests synthesize: every stage as it may be deployed. `local` is HTTP only (LocalStack
# has no ELBv2), prod always has HTTPS, dev and staging may run either way.
VARIANTS: dict[str, tuple[str, str | None]] = {
    "local": ("local", None),
    "dev": ("dev", None),
    "dev+https": ("dev", CERTIFICATE_ARN),
    "staging": ("staging", None),
    "staging+https": ("staging", CERTIFICATE_ARN),
    "prod+https": ("prod", CERTIFICATE_ARN),
}


@dataclass(frozen=True)
class Synthesized:
    stage: str
    outdir: Path
    # The exception app.synth() raised: cdk-nag findings fail synthesis through policy validation.
    error: Exception | None
    certificate_arn: str | None = None
    # The contract the stage was built for: its service name names the assembly and the stacks.
    contract: Contract = field(default_factory=contract)

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None

    @property
    def assembly(self) -> Path:
        return self.outdir / f"assembly-{self.contract.resource_prefix(self.stage)}"

    def template(self, stack: str) -> dict[str, Any]:
        """The template of `stack` ("registry" or "service"), read from the cloud assembly."""
        stack_name = f"{self.contract.resource_prefix(self.stage)}-{stack}"
        manifest = json.loads((self.assembly / "manifest.json").read_text())
        for artifact in manifest["artifacts"].values():
            properties = artifact.get("properties", {})
            if properties.get("stackName") == stack_name:
                return json.loads((self.assembly / properties["templateFile"]).read_text())
        raise AssertionError(f"no stack {stack_name} in {self.outdir}")

    def template_files(self) -> list[Path]:
        return sorted(self.assembly.glob("*.template.json"))

    def nag_findings(self) -> list[str]:
        """cdk-nag's findings, one line each: a finding fails app.synth() (policy validation) and
        lands in validation-report.json."""
        report = json.loads((self.outdir / "validation-report.json").read_text())
        return [
            f"{violation['ruleName']} at {construct['constructPath']}"
            for plugin in report["pluginReports"]
            for violation in plugin["violations"]
            for construct in violation.get("violatingConstructs", [])
        ]

    def cfn_lint_errors(self) -> list[str]:
        """cfn-lint's errors (E rules) in every template of the stage, one line each."""
        from cfnlint.api import lint_file

        return [
            f"{path.name}: {match}"
            for path in self.template_files()
            for match in lint_file(path)
            if match.rule.id.startswith("E")
        ]


def synthesize(
    stage: str,
    outdir: Path,
    certificate_arn: str | None = None,
    service: Contract | None = None,
) -> Synthesized:
    """`service`: the contract to build the stage for (default: the checkout's)."""
    from aws_cdk import App

    from hangar_infra.app_factory import build_stage

    context = {"stage": stage} if stage == "local" else {"stage": stage, "imageTag": IMAGE_TAG}
    if certificate_arn is not None:
        context["certificateArn"] = certificate_arn
    app = App(context=context, outdir=str(outdir))
    service = service or contract()
    build_stage(app, service)
    try:
        app.synth()
    except RuntimeError as error:  # jsii surfaces the validation failure as RuntimeError
        return Synthesized(stage, outdir, error, certificate_arn, service)
    return Synthesized(stage, outdir, None, certificate_arn, service)


def synthesize_every_variant(
    service: Contract, outdir: Callable[[str], Path]
) -> dict[str, Synthesized]:
    """Every variant of VARIANTS for `service`, each into the new folder `outdir(stage)` gives."""
    return {
        name: synthesize(stage, outdir(f"cdk-{stage}"), certificate_arn, service)
        for name, (stage, certificate_arn) in VARIANTS.items()
    }
