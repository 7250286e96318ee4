"""The GitHub Actions workflows and Dependabot config, checked statically (GitHub is not reachable).

What is checked is what would hurt if it regressed: supply-chain pinning, token permissions, the
deploy contract (same `make deploy`, immutable tag, production gated behind staging), and schema
validity against the schemas check-jsonschema ships (no network).
"""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hangar.paths import ROOT

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.y*ml"))
PINNED_USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})"
    r"\s+#\s+v?\d+\.\d+\.\d+\s*$"
)
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s")
# trivy-action tags were force-pushed to a credential stealer on 2026-03-19; v0.35.0 was not.
TRIVY_ACTION_V0_35_0 = "aquasecurity/trivy-action@57a97c7e7821a5776cebc9bb87c984fa69cba8f1"


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in document:
        document["on"] = document.pop(True)
    return dict(document)


def workflow(name: str) -> dict[str, Any]:
    return load(GITHUB / "workflows" / name)


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """A job's steps; for a job that calls a reusable workflow of this repo, that workflow's."""
    called = job.get("uses", "")
    if called.startswith("./"):
        return [step for inner in load(ROOT / called)["jobs"].values() for step in steps(inner)]
    return list(job.get("steps", []))


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, name, job) for path in WORKFLOWS for name, job in load(path)["jobs"].items()
    ]


def test_the_workflows_exist() -> None:
    assert [path.name for path in WORKFLOWS] == ["ci.yml", "deploy-stage.yml", "deploy.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version(path: Path) -> None:
    # A reusable workflow of this repository (`uses: ./…`) runs at the caller's own commit.
    uses_lines = [
        line
        for line in path.read_text().splitlines()
        if USES_LINE.match(line) and "uses: ./" not in line
    ]
    parsed_uses = [
        step["uses"]
        for job in load(path)["jobs"].values()
        for step in job.get("steps", [])
        if "uses" in step
    ]
    assert len(uses_lines) == len(parsed_uses)  # the text scan saw every step YAML sees
    assert parsed_uses or all(job["uses"].startswith("./") for job in load(path)["jobs"].values())
    unpinned = [line.strip() for line in uses_lines if not PINNED_USES.match(line)]
    assert unpinned == [], "pin to a 40-hex commit SHA followed by `# vX.Y.Z`"


def test_trivy_action_is_pinned_to_the_release_that_was_never_compromised() -> None:
    trivy = [
        s["uses"] for _, _, job in all_jobs() for s in steps(job) if "trivy" in s.get("uses", "")
    ]
    assert trivy == [TRIVY_ACTION_V0_35_0]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_token_has_no_permissions_unless_a_job_asks(path: Path) -> None:
    assert load(path)["permissions"] == {}


@pytest.mark.parametrize(("workflow_name", "job_name", "job"), all_jobs())
def test_every_job_declares_its_permissions(
    workflow_name: str, job_name: str, job: dict[str, Any]
) -> None:
    assert "permissions" in job, f"{workflow_name}:{job_name} has no permissions block"
    granted = job["permissions"]
    writes = {scope for scope, level in granted.items() if level == "write"}
    uses = " ".join(step.get("uses", "") for step in steps(job))
    # Each write scope is there for one action that needs it.
    if "id-token" in writes:
        assert "aws-actions/configure-aws-credentials@" in uses
    if "security-events" in writes:
        assert "github/codeql-action/upload-sarif@" in uses
    assert writes <= {"id-token", "security-events"}


def test_only_the_upload_job_may_write_security_events() -> None:
    writers = [
        (w, name)
        for w, name, job in all_jobs()
        if job["permissions"].get("security-events") == "write"
    ]
    assert writers == [("ci.yml", "upload-sarif")]


@pytest.mark.parametrize(("workflow_name", "job_name", "job"), all_jobs())
def test_checkout_never_leaves_the_token_on_disk(
    workflow_name: str, job_name: str, job: dict[str, Any]
) -> None:
    for step in steps(job):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize(("workflow_name", "job_name", "job"), all_jobs())
def test_no_expression_is_pasted_into_a_shell_script(
    workflow_name: str, job_name: str, job: dict[str, Any]
) -> None:
    """Template injection: `${{ }}` in `run:` is expanded before the shell parses it."""
    for step in steps(job):
        assert "${{" not in step.get("run", ""), f"{job_name}: pass it through env: instead"


def test_no_image_is_ever_tagged_latest() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert not re.search(r":latest\b", text), path.name
        assert "IMAGE_TAG: latest" not in text


# --- ci.yml --------------------------------------------------------------------------------------


def test_ci_runs_the_same_make_targets_as_a_developer() -> None:
    jobs = workflow("ci.yml")["jobs"]
    runs = {name: [s.get("run", "") for s in steps(job)] for name, job in jobs.items()}
    assert "make lint" in runs["lint"]
    assert "make test" in runs["test"]
    assert "make synth" in runs["test"]
    assert jobs["test"]["env"]["HANGAR_LOCALSTACK_MODE"] == "docker"


def test_ci_builds_the_runtime_image_with_the_actions_cache_and_fails_on_fixable_vulns() -> None:
    image_steps = steps(workflow("ci.yml")["jobs"]["image"])
    build = next(s for s in image_steps if "build-push-action" in s.get("uses", ""))
    assert build["with"]["target"] == "runtime"
    assert build["with"]["load"] is True
    assert build["with"]["cache-from"].startswith("type=gha")
    assert build["with"]["cache-to"].startswith("type=gha")
    scan = next(s for s in image_steps if "trivy-action" in s.get("uses", ""))
    assert scan["with"]["image-ref"] == build["with"]["tags"]
    assert scan["with"]["severity"] == "HIGH,CRITICAL"
    assert scan["with"]["ignore-unfixed"] is True
    assert scan["with"]["exit-code"] == "1"
    assert scan["with"]["format"] == "sarif"


def test_the_pr_cdk_diff_runs_only_when_its_role_is_configured() -> None:
    job = workflow("ci.yml")["jobs"]["cdk-diff"]
    assert "github.event_name == 'pull_request'" in job["if"]
    assert "vars.AWS_DIFF_ROLE_ARN != ''" in job["if"]
    run = " ".join(s.get("run", "") for s in steps(job))
    assert "make --no-print-directory diff STAGE=staging" in run
    assert 'CERTIFICATE_ARN="$CERTIFICATE_ARN"' in run
    assert "$GITHUB_STEP_SUMMARY" in run


# --- deploy.yml and deploy-stage.yml ------------------------------------------------------------

DEPLOY_JOBS = [("staging", "staging", "staging"), ("production", "prod", "production")]


def deploy_stage_job() -> dict[str, Any]:
    return dict(workflow("deploy-stage.yml")["jobs"]["deploy"])


def test_deploy_triggers_on_main_and_by_hand_with_a_stage_choice() -> None:
    triggers = workflow("deploy.yml")["on"]
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["workflow_dispatch"]["inputs"]["stage"]["options"] == ["staging", "prod"]


@pytest.mark.parametrize(("job_name", "stage", "environment"), DEPLOY_JOBS)
def test_each_environment_runs_make_deploy_with_the_commit_sha(
    job_name: str, stage: str, environment: str
) -> None:
    job = workflow("deploy.yml")["jobs"][job_name]
    assert job["uses"] == "./.github/workflows/deploy-stage.yml"
    assert job["with"]["stage"] == stage
    assert "github.sha" in job["with"]["git-sha"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}

    deploy_job = deploy_stage_job()
    deploy_step = next(s for s in steps(deploy_job) if s.get("id") == "deploy")
    assert deploy_step["run"] == (
        'make deploy STAGE="$STAGE" IMAGE_TAG="$IMAGE_TAG" CERTIFICATE_ARN="$CERTIFICATE_ARN"'
    )
    assert deploy_step["env"]["STAGE"] == "${{ inputs.stage }}"
    assert deploy_step["env"]["IMAGE_TAG"] == "${{ inputs.git-sha }}"
    # Environment-scoped and not a secret: each environment names its own certificate.
    assert deploy_step["env"]["CERTIFICATE_ARN"] == "${{ vars.CERTIFICATE_ARN }}"
    credentials = next(s for s in steps(deploy_job) if "configure-aws-credentials" in s["uses"])
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert deploy_job["permissions"] == {"contents": "read", "id-token": "write"}


def test_production_waits_for_staging_and_its_reviewers() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    assert jobs["production"]["needs"] == "staging"
    assert jobs["production"]["with"]["environment"] == "production"
    assert jobs["staging"]["with"]["environment"] == "staging"
    assert deploy_stage_job()["environment"]["name"] == "${{ inputs.environment }}"
    assert "needs.staging.result == 'success'" in jobs["production"]["if"]


@pytest.mark.parametrize("job_name", ["staging", "production"])
def test_one_deploy_at_a_time_per_environment_and_none_cancelled(job_name: str) -> None:
    job = workflow("deploy.yml")["jobs"][job_name]
    assert job["concurrency"] == {"group": f"deploy-{job_name}", "cancel-in-progress": False}


@pytest.mark.parametrize("job_name", ["staging", "production"])
def test_a_failed_deploy_is_reported(job_name: str) -> None:
    caller = workflow("deploy.yml")["jobs"][job_name]
    assert caller["secrets"]["SLACK_WEBHOOK_URL"] == "${{ secrets.SLACK_WEBHOOK_URL }}"
    report = steps(caller)[-1]
    assert report["if"] == "${{ failure() }}"
    assert report["env"]["SLACK_WEBHOOK_URL"] == "${{ secrets.SLACK_WEBHOOK_URL }}"
    script = GITHUB / report["run"].removeprefix(".github/")
    assert script.stat().st_mode & 0o111, f"{script} must be executable"


def test_deploy_jobs_use_no_caches_a_pull_request_could_have_written() -> None:
    for job in workflow("deploy.yml")["jobs"].values():
        for step in steps(job):
            if "setup-uv" in step.get("uses", ""):
                assert step["with"]["enable-cache"] is False
            if "setup-node" in step.get("uses", ""):
                assert step["with"]["package-manager-cache"] is False


# --- schemas -------------------------------------------------------------------------------------


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_workflows_match_the_github_workflow_schema() -> None:
    result = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_does_reject_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps: []\n")  # no runs-on
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0


def test_dependabot_config_matches_its_schema_and_covers_every_ecosystem() -> None:
    path = GITHUB / "dependabot.yml"
    result = check_jsonschema("vendor.dependabot", path)
    assert result.returncode == 0, result.stdout + result.stderr
    updates = load(path)["updates"]
    assert {u["package-ecosystem"] for u in updates} == {"github-actions", "uv", "npm", "docker"}
    for update in updates:
        assert update["schedule"]["interval"] == "weekly"
        assert update["groups"], f"{update['package-ecosystem']} updates are not grouped"
