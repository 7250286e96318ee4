"""`hangar audit`: known vulnerabilities in every lock the project installs from (`make lint`).

pip-audit checks uv.lock (exported with its hashes) and LocalStack's host-mode lock against OSV;
npm audit checks package-lock.json against the npm registry's advisories. A finding the project
accepts for now is listed in .audit-ignore.yaml with why and until when, as the image scan's are
in .trivyignore.yaml; an entry in either file without a reason or a date, or past its date, fails
the audit before any service is asked.

Both services are on the network. Where one does not answer, the audit fails, unless
HANGAR_AUDIT_OFFLINE=warn declares a machine known to lack them (the CI machines of .ci/run reach
PyPI's and npm's downloads but neither advisory service): it then prints, in a line starting with
OFFLINE_NOTICE, what it could not audit, and .ci/run repeats that line in its summary.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hangar.core.console import info, step
from hangar.core.errors import HangarError
from hangar.core.paths import LOCALSTACK_LOCK, ROOT
from hangar.provision.docker import uv_executable

ALLOW_LIST = ROOT / ".audit-ignore.yaml"
TRIVY_ALLOW_LIST = ROOT / ".trivyignore.yaml"
OSV_URL = "https://api.osv.dev/v1/query"
NPM_REGISTRY = "https://registry.npmjs.org/"
OFFLINE_VARIABLE = "HANGAR_AUDIT_OFFLINE"
OFFLINE_NOTICE = "dependency audit NOT RUN"
PROBE_TIMEOUT = 15.0
ACCEPT_HINT = (
    "upgrade the package (uv lock --upgrade-package NAME, npm install NAME@VERSION), or accept "
    "the finding in .audit-ignore.yaml with a statement and an expired_at date"
)


class ServiceUnreachable(Exception):
    """A vulnerability service did not answer: nothing was audited against it."""


@dataclass(frozen=True)
class Services:
    osv_url: str = OSV_URL
    npm_registry: str = NPM_REGISTRY


# --- the allow-lists ----------------------------------------------------------------------------


def allow_list_problems(document: Mapping[str, Any], today: datetime.date) -> list[str]:
    """Entries without a reason or an expiry date, or past it: each one is a problem."""
    found: list[str] = []
    for entry in document.get("vulnerabilities") or []:
        name = entry.get("id", "an entry without id")
        if not str(entry.get("statement", "")).strip():
            found.append(f"{name}: no statement (why is it acceptable?)")
        expires = entry.get("expired_at")
        if not isinstance(expires, datetime.date):
            found.append(f"{name}: no expired_at date (YYYY-MM-DD)")
        elif expires <= today:
            found.append(f"{name}: expired on {expires}")
    return found


def load_allow_list(path: Path) -> dict[str, Any]:
    """Its entries; a repository without the file (`hangar init` writes none) accepts nothing."""
    if not path.exists():
        return {"vulnerabilities": []}
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or set(document) != {"vulnerabilities"}:
        raise HangarError(
            f"{path.name} must be a mapping with one key, `vulnerabilities`",
            hint="see the comment at the top of .trivyignore.yaml for the format",
        )
    return document


def check_allow_lists(paths: Iterable[Path], today: datetime.date) -> None:
    """An allow-list entry without a reason or a date, or past it, fails before anything runs."""
    problems = []
    for path in paths:
        problems += [f"{path.name}: {p}" for p in allow_list_problems(load_allow_list(path), today)]
    if problems:
        raise HangarError(
            "\n".join(problems),
            hint="fix the finding and remove the entry, or give a reason and a new date",
        )


def accepted_ids(path: Path) -> set[str]:
    return {str(entry["id"]) for entry in load_allow_list(path)["vulnerabilities"] or []}


# --- Python locks: pip-audit against OSV ---------------------------------------------------------


def probe_osv(osv_url: str) -> None:
    body = json.dumps({"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "0"}).encode()
    # OSV_URL, or a test's server on loopback: never a scheme a user chose.
    request = urllib.request.Request(  # noqa: S310
        osv_url, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT):  # noqa: S310
            return
    except (OSError, urllib.error.URLError) as error:
        raise ServiceUnreachable(f"OSV ({osv_url}) does not answer: {error}") from error


def uv_lock_requirements(destination: Path) -> Path:
    """uv.lock's packages, every group, with their hashes, as requirements pip-audit reads (not
    the workspace's own: the hangar package in scripts/ is this checkout's source, not a pin)."""
    command = [
        uv_executable(),
        "export",
        "--quiet",
        "--frozen",
        "--all-groups",
        "--no-emit-workspace",
    ]
    subprocess.run([*command, "--output-file", str(destination)], cwd=ROOT, check=True)
    return destination


def pip_audit(requirements: Path, ignored: Iterable[str], osv_url: str) -> None:
    command = [sys.executable, "-m", "pip_audit", "--requirement", str(requirements)]
    # The lock is the resolution: no pip, no resolver, every pin checked by its hash; a package
    # the service cannot judge fails the audit (--strict) instead of being skipped.
    command += ["--require-hashes", "--disable-pip", "--no-deps", "--strict"]
    command += ["--vulnerability-service", "osv", "--osv-url", osv_url, "--progress-spinner", "off"]
    command += [arg for vuln in sorted(ignored) for arg in ("--ignore-vuln", vuln)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if output:
        info(output)
    if result.returncode != 0:
        raise HangarError(
            f"pip-audit failed for {requirements.name} (findings or errors above)", ACCEPT_HINT
        )


# --- package-lock.json: npm audit ----------------------------------------------------------------


def npm_findings(report: Mapping[str, Any], ignored: Iterable[str]) -> list[str]:
    """`npm audit --json`'s advisories, one line each, without the accepted ones."""
    accepted = set(ignored)
    findings = set()
    for package, vulnerability in (report.get("vulnerabilities") or {}).items():
        for cause in vulnerability.get("via", []):
            if not isinstance(cause, dict):
                continue  # another package's advisory, reported under that package
            advisory = str(cause.get("url", "")).rstrip("/").rsplit("/", 1)[-1]
            if advisory not in accepted:
                findings.add(f"{package} {cause.get('range', '')}: {advisory} {cause.get('title')}")
    return sorted(findings)


def npm_audit(ignored: Iterable[str], registry: str) -> None:
    # --offline=false: where npm is set to work offline (the dev container), an audit would
    # otherwise ask no one and report nothing found.
    command = [
        "npm",
        "audit",
        "--package-lock-only",
        "--json",
        "--offline=false",
        f"--registry={registry}",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise ServiceUnreachable(
            f"npm audit answered no report: {result.stderr.strip()}"
        ) from error
    if "error" in report:
        reason = report.get("message") or report["error"].get("summary") or "no reason given"
        raise ServiceUnreachable(f"npm's audit service ({registry}) did not answer: {reason}")
    if findings := npm_findings(report, ignored):
        raise HangarError("npm audit: package-lock.json\n" + "\n".join(findings), ACCEPT_HINT)
    info("npm audit: no known vulnerabilities in package-lock.json")


# --- command ------------------------------------------------------------------------------------


def audit_python(ignored: set[str], osv_url: str) -> None:
    with step("pip-audit: uv.lock and LocalStack's host-mode lock against OSV"):
        probe_osv(osv_url)
        with tempfile.TemporaryDirectory() as scratch:
            pip_audit(uv_lock_requirements(Path(scratch) / "uv-lock.txt"), ignored, osv_url)
        pip_audit(LOCALSTACK_LOCK, ignored, osv_url)


def audit_npm(ignored: set[str], registry: str) -> None:
    with step("npm audit: package-lock.json"):
        npm_audit(ignored, registry)


def audit(
    services: Services = Services(),
    today: datetime.date | None = None,
    environ: Mapping[str, str] = os.environ,
    allow_list: Path = ALLOW_LIST,
) -> list[str]:
    """Audit every lock; returns what could not be audited (only when offline is declared)."""
    check_allow_lists((allow_list, TRIVY_ALLOW_LIST), today or datetime.date.today())
    ignored = accepted_ids(allow_list)
    offline_declared = environ.get(OFFLINE_VARIABLE) == "warn"
    not_run: list[str] = []
    for run_one, service in ((audit_python, services.osv_url), (audit_npm, services.npm_registry)):
        try:
            run_one(ignored, service)
        except ServiceUnreachable as error:
            if not offline_declared:
                raise HangarError(
                    f"{error}: the locks were not audited",
                    hint=f"run `make lint` where the service answers; on a machine known to lack "
                    f"it, {OFFLINE_VARIABLE}=warn reports instead that the audit did not run",
                ) from error
            not_run.append(str(error))
    return not_run


def run(args: argparse.Namespace) -> int:
    for reason in audit():
        info(f"{OFFLINE_NOTICE}: {reason} ({OFFLINE_VARIABLE}=warn)")
    return 0


def register(subparsers: Any) -> None:
    subparsers.add_parser(
        "audit",
        help="known vulnerabilities in uv.lock, LocalStack's lock and package-lock.json "
        "(part of `make lint`)",
        description=__doc__.splitlines()[0],
    ).set_defaults(func=run)
