"""The pure parts of `hangar.deploy.stacks` and `local_stage`: stage validation, certificates,
stack outputs → .hangar/local.env, the unchanged-inputs record."""

import argparse
import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hangar.cdk import driver as cdk
from hangar.core import stages
from hangar.core.contract import Bucket, Queue, contract
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.deploy import local_stage
from hangar.deploy import stacks as infra
from hangar.deploy.stack_events import failure_from_event

ENDPOINT = "http://127.0.0.1:4566"
# What a project declares, named as one other than the sample would name it.
DECLARED = replace(
    contract(),
    buckets=(Bucket("uploads", env="UPLOADS_BUCKET"),),
    queues=(Queue("jobs", env="JOBS_QUEUE_URL", dlq_env="JOBS_DLQ_URL"),),
)
OUTPUTS = {
    "UploadsBucketName": "hangar-local-service-uploads-1a2b",
    "JobsQueueUrl": "http://127.0.0.1:4566/000000000000/jobs",
    "JobsDlqUrl": "http://127.0.0.1:4566/000000000000/dead-letters",
    "AllowedHosts": "unknown,localhost,127.0.0.1",
    "Region": "us-east-1",
    "ClusterName": "unknown",
}


@pytest.fixture(autouse=True)
def declared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_stage, "contract", lambda: DECLARED)


def test_outputs_map_to_the_env_contract_keys() -> None:
    env = local_stage.local_env(OUTPUTS, secret_key="s3cr3t", endpoint=ENDPOINT)
    assert env == {
        "UPLOADS_BUCKET": "hangar-local-service-uploads-1a2b",
        "JOBS_QUEUE_URL": "http://127.0.0.1:4566/000000000000/jobs",
        "JOBS_DLQ_URL": "http://127.0.0.1:4566/000000000000/dead-letters",
        # LocalStack's placeholder for the (unemulated) load balancer is not a host.
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": ENDPOINT,
        "DJANGO_SECRET_KEY": "s3cr3t",
        # LocalStack's fake credentials: a dev server started from any shell can sign requests.
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def test_the_app_keys_are_the_contracts_declared_resources_and_local_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notes = replace(
        contract(),
        buckets=(Bucket("uploads", env="NOTES_BUCKET"),),
        queues=(),
        stage_env={"local": {"FEATURE_FLAGS": "billing"}, "prod": {"ONLY_IN": "prod"}},
    )
    monkeypatch.setattr(local_stage, "contract", lambda: notes)

    env = local_stage.local_env(OUTPUTS, secret_key="s3cr3t", endpoint=ENDPOINT)

    assert env["NOTES_BUCKET"] == "hangar-local-service-uploads-1a2b"
    assert env["FEATURE_FLAGS"] == "billing"
    assert not {"UPLOADS_BUCKET", "JOBS_QUEUE_URL", "JOBS_DLQ_URL", "ONLY_IN"} & set(env)
    # The platform's keys stay, whatever the app declares.
    assert {"DJANGO_ALLOWED_HOSTS", "AWS_REGION", "DJANGO_SECRET_KEY"} <= set(env)


def test_an_app_that_declares_nothing_gets_only_the_platforms_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bare = replace(contract(), buckets=(), queues=())
    monkeypatch.setattr(local_stage, "contract", lambda: bare)
    platform_outputs = {k: OUTPUTS[k] for k in ("AllowedHosts", "Region")}

    env = local_stage.local_env(platform_outputs, secret_key="s3cr3t", endpoint=ENDPOINT)

    assert set(env) == {
        "DJANGO_ALLOWED_HOSTS",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "DJANGO_SECRET_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }


def test_a_missing_output_is_named_with_what_to_do() -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k != "JobsDlqUrl"}
    with pytest.raises(HangarError, match="no JobsDlqUrl output") as error:
        local_stage.local_env(outputs, secret_key="s3cr3t", endpoint=ENDPOINT)
    assert error.value.hint == "redeploy it: make deploy-local"


def test_env_file_is_sorted_key_value_lines_readable_only_by_the_owner(tmp_path: Path) -> None:
    env = local_stage.local_env(OUTPUTS, secret_key="s3cr3t", endpoint=ENDPOINT)
    target = tmp_path / "local.env"
    local_stage.write_env_file(env, target)
    lines = [line for line in target.read_text().splitlines() if not line.startswith("#")]
    assert lines == sorted(lines)
    assert dict(line.split("=", 1) for line in lines) == env
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["local.env"]  # no scratch file left


def test_a_value_spanning_lines_is_refused_before_writing(tmp_path: Path) -> None:
    target = tmp_path / "local.env"
    with pytest.raises(HangarError, match="DJANGO_SECRET_KEY"):
        local_stage.write_env_file({"DJANGO_SECRET_KEY": "a\nb"}, target)
    assert not target.exists()


def test_unknown_stage_is_refused_listing_the_stages() -> None:
    with pytest.raises(HangarError, match="unknown stage 'qa'") as error:
        stages.check_stage("qa")
    assert error.value.hint == "pass --stage with one of: local, dev, staging, prod"


def test_commands_are_registered_with_their_options() -> None:
    parser = argparse.ArgumentParser()
    infra.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["diff", "--stage", "staging", "--image-tag", "abc1234"])
    assert (args.stage, args.image_tag) == ("staging", "abc1234")
    assert parser.parse_args(["synth"]).stage is None
    with pytest.raises(SystemExit):
        parser.parse_args(["diff"])  # --stage is required


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def test_synth_and_diff_pass_the_certificate_as_context(monkeypatch: pytest.MonkeyPatch) -> None:
    context = cdk.context("dev", imageTag="abc1234", certificateArn=CERTIFICATE)
    assert context[-2:] == ["-c", f"certificateArn={CERTIFICATE}"]
    without = cdk.context("dev", imageTag="abc1234", certificateArn=None)
    assert without == ["-c", "stage=dev", "-c", "imageTag=abc1234"]
    monkeypatch.setenv("CERTIFICATE_ARN", CERTIFICATE)
    parser = argparse.ArgumentParser()
    infra.register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["synth"]).certificate_arn == CERTIFICATE
    assert parser.parse_args(["diff", "--stage", "prod"]).certificate_arn == CERTIFICATE


def test_synth_gives_prod_a_placeholder_certificate_and_local_none() -> None:
    # prod cannot synthesize without one; `make synth` checks templates and deploys nothing.
    assert infra.synth_certificate("prod", None) == infra.PLACEHOLDER_CERTIFICATE_ARN
    assert infra.synth_certificate("staging", None) is None
    assert infra.synth_certificate("dev", CERTIFICATE) == CERTIFICATE
    assert infra.synth_certificate("prod", CERTIFICATE) == CERTIFICATE
    assert infra.synth_certificate("local", CERTIFICATE) is None


def test_deploy_local_without_localstack_says_how_to_start_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Another deploy of this checkout holds the lock: the answer must not wait for it.
    monkeypatch.setattr(local_stage, "STATE_DIR", tmp_path)
    with (tmp_path / "deploy-local.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        answer: dict[str, HangarError] = {}

        def deploy() -> None:
            try:
                # Port 9 (discard) on loopback: nothing answers, the check fails fast.
                local_stage.deploy_local("http://127.0.0.1:9")
            except HangarError as error:
                answer["error"] = error

        attempt = threading.Thread(target=deploy, daemon=True)
        attempt.start()
        attempt.join(timeout=10)
    assert not attempt.is_alive(), "deploy-local waited for the lock before checking LocalStack"
    error = answer["error"]
    assert "does not answer at http://127.0.0.1:9" in str(error)
    assert error.hint is not None
    assert "make localstack-up" in error.hint


def _event(status: str, reason: str, resource_type: str = "AWS::EC2::NatGateway") -> dict:
    return {
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "ResourceType": resource_type,
        "LogicalResourceId": "NatGateway",
        "Timestamp": datetime.now(UTC),
    }


def test_a_failed_resource_event_keeps_its_reason() -> None:
    failure = failure_from_event("hangar-local-service", _event("CREATE_FAILED", "Allocation ID"))
    assert failure is not None
    assert str(failure) == (
        "hangar-local-service: NatGateway (AWS::EC2::NatGateway) CREATE_FAILED: Allocation ID"
    )


@pytest.mark.parametrize(
    "event",
    [
        _event("CREATE_IN_PROGRESS", ""),
        _event("CREATE_FAILED", "Resource creation cancelled"),
        _event("UPDATE_FAILED", "The following resource(s) failed to create: [Vpc]."),
        _event("ROLLBACK_FAILED", "x", resource_type="AWS::CloudFormation::Stack"),
    ],
)
def test_progress_knock_on_cancellations_and_the_stack_itself_are_not_causes(event: dict) -> None:
    assert failure_from_event("s", event) is None


def deploy_inputs(endpoint: str = ENDPOINT) -> str:
    """deploy-local's record key for this checkout's inputs deployed into `endpoint`."""
    return local_stage.local_inputs_hash(endpoint, local_stage.source_inputs_hash())


class TestLocalInputsHash:
    @pytest.fixture
    def root(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """A copy of what the local stage is built from, as the checkout ROOT points at."""
        for name in local_stage.DEPLOY_INPUTS:
            source = local_stage.ROOT / name
            if not source.exists():  # capacity.json, before a project's first `make bench`
                continue
            if source.is_dir():
                ignore = shutil.ignore_patterns("cdk.out", "__pycache__")
                shutil.copytree(source, tmp_path / name, ignore=ignore)
            else:
                (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, tmp_path / name)
        monkeypatch.setattr(local_stage, "ROOT", tmp_path)
        return tmp_path

    @pytest.mark.parametrize(
        "name", ["capacity.json", "scripts/hangar/core/contract.py", "pyproject.toml"]
    )
    def test_a_changed_file_the_synth_reads_changes_it(self, root: Path, name: str) -> None:
        before = local_stage.source_inputs_hash()
        path = root / name
        path.write_text((path.read_text() if path.exists() else "{}") + "\n")
        assert local_stage.source_inputs_hash() != before

    def test_a_changed_construct_changes_it(self, root: Path) -> None:
        before = deploy_inputs()
        assert deploy_inputs() == before, "not deterministic"
        construct = next((root / "scripts" / "hangar_infra" / "constructs").glob("*.py"))
        construct.write_text(construct.read_text() + "\n# one more line\n")
        assert deploy_inputs() != before

    def test_a_new_cdk_version_changes_it(self, root: Path) -> None:
        before = deploy_inputs()
        (root / "package-lock.json").write_text("{}")
        assert deploy_inputs() != before

    def test_bytecode_caches_do_not_change_it(self, root: Path) -> None:
        before = deploy_inputs()
        cache = root / "scripts" / "hangar_infra" / "__pycache__"
        cache.mkdir(exist_ok=True)
        (cache / "stage.cpython-313.pyc").write_bytes(b"\0")
        assert deploy_inputs() == before

    def test_another_localstack_changes_it(self, root: Path) -> None:
        assert deploy_inputs() != deploy_inputs("http://127.0.0.1:4615")

    def test_the_assemblys_inputs_change_with_a_construct_only(self, root: Path) -> None:
        before = local_stage.source_inputs_hash()
        construct = next((root / "scripts" / "hangar_infra" / "constructs").glob("*.py"))
        construct.write_text(construct.read_text() + "\n# one more line\n")
        assert local_stage.source_inputs_hash() != before


# The CDK app's modules as `cdk synth` loads them (infra/app.py's imports).
LOADED_BY_THE_CDK_APP = """
import json, sys
import hangar_infra.app_factory
print(json.dumps([getattr(module, "__file__", None) for module in list(sys.modules.values())]))
"""


def outside_the_inputs(files: list[Path], root: Path) -> list[Path]:
    """The checkout's files among `files` that no entry of DEPLOY_INPUTS covers."""
    inputs = [root / name for name in local_stage.DEPLOY_INPUTS]
    mine = [path for path in files if path.is_relative_to(root) and ".venv" not in path.parts]
    return [path for path in mine if not any(path.is_relative_to(top) for top in inputs)]


def test_every_module_of_the_checkout_the_cdk_app_imports_is_an_input() -> None:
    """A module the app imports from outside the inputs would change the templates while
    deploy-local reports "unchanged" and keeps the old stacks."""
    loaded = subprocess.run(
        [sys.executable, "-c", LOADED_BY_THE_CDK_APP],
        # This checkout's CLI too: the environment's own path may be another checkout's (a copy
        # that shares this one's, tests/e2e/checkout_copy.py).
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
        capture_output=True,
        text=True,
        check=True,
    )
    files = [Path(name).resolve() for name in json.loads(loaded.stdout) if name]
    root = local_stage.ROOT.resolve()
    assert any(path.is_relative_to(root / "scripts") for path in files), "the check sees nothing"
    assert outside_the_inputs(files, root) == []
    assert outside_the_inputs([root / "scripts" / "hangar" / "deploy" / "x.py"], root) != []


class TestReusableAssembly:
    """After `make down` LocalStack is empty: deploy-local deploys the assembly it synthesized
    last instead of synthesizing again, only for the same inputs and the very same files."""

    @pytest.fixture(autouse=True)
    def assembly(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.setattr(local_stage, "ASSEMBLY_DIR", tmp_path / "cdk.out")
        monkeypatch.setattr(
            local_stage, "ASSEMBLY_RECORD", tmp_path / "state" / "local-assembly.json"
        )
        local = tmp_path / "cdk.out" / "local"
        (local / "assembly-hangar-local").mkdir(parents=True)
        (local / "manifest.json").write_text('{"version": "55.0.0"}')
        (local / "assembly-hangar-local" / "service.template.json").write_text('{"Resources": {}}')
        return local

    def test_the_recorded_synth_is_reused_for_the_same_inputs(self, assembly: Path) -> None:
        local_stage.record_assembly("inputs-1")
        assert local_stage.reusable_assembly("inputs-1") == assembly

    def test_other_inputs_synthesize_again(self) -> None:
        local_stage.record_assembly("inputs-1")
        assert local_stage.reusable_assembly("inputs-2") is None

    def test_an_assembly_rewritten_since_is_not_reused(self, assembly: Path) -> None:
        # As after `hangar synth`, which writes cdk.out/local with another CLI and context.
        local_stage.record_assembly("inputs-1")
        template = assembly / "assembly-hangar-local" / "service.template.json"
        template.write_text('{"Resources": {"Other": {}}}')
        assert local_stage.reusable_assembly("inputs-1") is None

    def test_no_record_or_a_broken_one_synthesizes(self) -> None:
        assert local_stage.reusable_assembly("inputs-1") is None
        local_stage.ASSEMBLY_RECORD.parent.mkdir()
        local_stage.ASSEMBLY_RECORD.write_text("not json")
        assert local_stage.reusable_assembly("inputs-1") is None

    def test_a_missing_assembly_synthesizes(self, assembly: Path) -> None:
        local_stage.record_assembly("inputs-1")
        shutil.rmtree(assembly)
        assert local_stage.reusable_assembly("inputs-1") is None
