"""The rule that nothing reaches AWS unless CI passed for that commit, checked on the workflows.

A job obtains AWS credentials when it runs aws-actions/configure-aws-credentials, asks for an OIDC
token (`id-token: write`), or calls a reusable workflow whose jobs do. Every such job must:

- need, directly or through other jobs, the three gate jobs of its own workflow: the one running
  `make lint`, the one running `make test`, and the one scanning the image with Trivy — so it runs
  in the same run, for the same commit, only after they succeeded;
- never let a status function (`always()`, `!cancelled()`, `failure()`, `cancelled()`) open that
  path: with one, a job runs although a job it needs failed;
- check out the run's own commit (no `ref:` pointing elsewhere).

A workflow started by `workflow_run` gets the same guarantee only when each such job requires the
triggering run's conclusion to be `success` and checks out its `head_sha`; this module accepts that
form too, so either design is held to the rule.
"""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

STATUS_FUNCTION = re.compile(r"\b(always|cancelled|failure)\s*\(")
WORKFLOW_RUN_SUCCESS = "github.event.workflow_run.conclusion == 'success'"
WORKFLOW_RUN_SHA = "${{ github.event.workflow_run.head_sha }}"
Workflow = dict[str, Any]


def load(path: Path) -> Workflow:
    document = dict(yaml.safe_load(path.read_text()))
    if True in document:  # YAML 1.1 reads the key `on` as the boolean True
        document["on"] = document.pop(True)
    return document


def triggers(workflow: Workflow) -> set[str]:
    on = workflow.get("on", {})
    if isinstance(on, str):
        return {on}
    return set(on)


def needs(job: Mapping[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def steps(job: Mapping[str, Any], workflows_dir: Path) -> list[dict[str, Any]]:
    """A job's steps; for a call of a reusable workflow of this repository, the callee's."""
    called = job.get("uses", "")
    if called.startswith("./"):
        callee = load(workflows_dir.parent.parent / called)
        return [s for inner in callee["jobs"].values() for s in steps(inner, workflows_dir)]
    return list(job.get("steps", []))


def callee_jobs(job: Mapping[str, Any], workflows_dir: Path) -> list[Mapping[str, Any]]:
    called = job.get("uses", "")
    if called.startswith("./"):
        return list(load(workflows_dir.parent.parent / called)["jobs"].values())
    return []


def obtains_aws_credentials(job: Mapping[str, Any], workflows_dir: Path) -> bool:
    if (job.get("permissions") or {}).get("id-token") == "write":
        return True
    if any("configure-aws-credentials" in s.get("uses", "") for s in steps(job, workflows_dir)):
        return True
    return any(
        obtains_aws_credentials(inner, workflows_dir) for inner in callee_jobs(job, workflows_dir)
    )


GATES = ("lint", "test", "macOS host mode", "image scan")


def gate_jobs(jobs: Mapping[str, Mapping[str, Any]], workflows_dir: Path) -> dict[str, str]:
    """Which job of the workflow is each gate: lint, test, the macOS host-mode tests, image scan
    (by what they run, and where).

    A job or step with `continue-on-error` is no gate: its failure would leave the job successful.
    """
    found: dict[str, str] = {}
    for name, job in jobs.items():
        if job.get("continue-on-error"):
            continue
        for step in steps(job, workflows_dir):
            if step.get("continue-on-error"):
                continue
            run = step.get("run", "")
            if re.search(r"(^|\n)\s*make lint\s*($|\n)", run):
                found.setdefault("lint", name)
            if re.search(r"(^|\n)\s*make test\s*($|\n)", run):
                found.setdefault("test", name)
            # Host mode where Django developers run it without Docker: macOS.
            if str(job.get("runs-on", "")).startswith("macos") and re.search(
                r"(^|\n)\s*make test-without-docker\s*($|\n)", run
            ):
                found.setdefault("macOS host mode", name)
            if (
                "aquasecurity/trivy-action@" in step.get("uses", "")
                and str(step.get("with", {}).get("exit-code")) == "1"
            ):
                found.setdefault("image scan", name)
    return found


def gate_checks(workflows_dir: Path) -> list[str]:
    """The status checks a change to a deploy branch must pass: the names GitHub reports for the
    gate jobs (lint, test, the macOS host-mode tests, image scan) of the workflow that has them."""
    for path in sorted(workflows_dir.glob("*.y*ml")):
        jobs = load(path).get("jobs", {})
        gates = gate_jobs(jobs, workflows_dir)
        if set(gates) == set(GATES):
            return [str(jobs[gates[gate]].get("name", gates[gate])) for gate in GATES]
    return []


def ancestors(name: str, jobs: Mapping[str, Mapping[str, Any]]) -> set[str]:
    seen: set[str] = set()
    pending = needs(jobs[name])
    while pending:
        current = pending.pop()
        if current in seen or current not in jobs:
            continue
        seen.add(current)
        pending.extend(needs(jobs[current]))
    return seen


def checkout_refs(job: Mapping[str, Any], workflows_dir: Path) -> list[str]:
    return [
        str(s.get("with", {}).get("ref"))
        for s in steps(job, workflows_dir)
        if s.get("uses", "").startswith("actions/checkout@") and "ref" in s.get("with", {})
    ]


def violations(workflows_dir: Path) -> list[str]:
    """Every way a job could obtain AWS credentials without CI having passed for its commit."""
    found: list[str] = []
    paths = sorted(workflows_dir.glob("*.y*ml"))
    gated = {
        str(load(path).get("name", path.stem))
        for path in paths
        if set(gate_jobs(load(path).get("jobs", {}), workflows_dir)) == set(GATES)
    }
    for path in paths:
        workflow = load(path)
        on = triggers(workflow)
        if on == {"workflow_call"}:
            continue  # a callee: checked through the jobs that call it
        jobs = workflow.get("jobs", {})
        gates = gate_jobs(jobs, workflows_dir)
        for name, job in jobs.items():
            if not obtains_aws_credentials(job, workflows_dir):
                continue
            where = f"{path.name}: job {name!r} obtains AWS credentials"
            if "workflow_run" in on:
                found += workflow_run_violations(where, workflow, job, gated, workflows_dir)
                continue
            missing = [gate for gate in GATES if gate not in gates]
            if missing:
                found.append(
                    f"{where} in a workflow with no {' and no '.join(missing)} job "
                    "(one whose failure fails it: no continue-on-error)"
                )
                continue
            upstream = ancestors(name, jobs)
            for gate, gate_job in gates.items():
                if gate_job not in upstream:
                    found.append(f"{where} without needing the {gate} job {gate_job!r}")
            for on_path in sorted({name, *(upstream - set(gates.values()))}):
                condition = str(jobs[on_path].get("if", ""))
                if STATUS_FUNCTION.search(condition):
                    found.append(
                        f"{where}: {on_path!r} has `if: {condition}`, which runs it even when "
                        "a job it needs failed"
                    )
            for ref in checkout_refs(job, workflows_dir):
                if ref != "${{ github.sha }}":
                    found.append(f"{where} and checks out {ref}, not the commit CI tested")
    return found


def workflow_run_violations(
    where: str, workflow: Workflow, job: Mapping[str, Any], gated: set[str], workflows_dir: Path
) -> list[str]:
    found: list[str] = []
    on = triggers(workflow)
    if on != {"workflow_run"}:
        found.append(f"{where}; its workflow also starts on {sorted(on - {'workflow_run'})}")
    watched = set(workflow["on"]["workflow_run"].get("workflows", []))
    if not watched or not watched <= gated:
        found.append(
            f"{where} after {sorted(watched)}, not only after workflows with the lint, test and "
            f"image scan jobs ({sorted(gated)})"
        )
    condition = str(job.get("if", ""))
    if WORKFLOW_RUN_SUCCESS not in condition or STATUS_FUNCTION.search(condition):
        found.append(f"{where} without requiring `{WORKFLOW_RUN_SUCCESS}`")
    if WORKFLOW_RUN_SHA not in checkout_refs(job, workflows_dir):
        found.append(f"{where} without checking out {WORKFLOW_RUN_SHA}, the commit CI tested")
    return found
