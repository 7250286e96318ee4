"""`hangar audit` (in `make lint`): the locks' known vulnerabilities, an expiring allow-list, and
never a silent pass when the advisory services cannot be reached.

pip-audit runs for real. OSV and npm's advisory service are not reachable from these machines, so
a server on loopback answers in OSV's format in their place.
"""

import datetime
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.provision import audit

TODAY = datetime.date(2026, 12, 6)
# One locked package, with its hashes, from LocalStack's lock.
LOCKED = "\n".join(audit.LOCALSTACK_LOCK.read_text().split("\n    # via")[0].splitlines()[2:])
LOCKED_NAME, LOCKED_VERSION = LOCKED.split(" ")[0].split("==")


class FakeOsv(BaseHTTPRequestHandler):
    """OSV's /v1/query: one advisory for the first package of LocalStack's lock."""

    queries: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOsv.queries.append(query)
        affected = query.get("package", {}).get("name") == LOCKED_NAME
        advisory = {
            "id": "PYSEC-2026-0001",
            "aliases": ["GHSA-test-0001"],
            "summary": "a test advisory",
            "affected": [
                {
                    "package": {"name": LOCKED_NAME, "ecosystem": "PyPI"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                }
            ],
        }
        body = json.dumps({"vulns": [advisory]} if affected else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def osv_url() -> Iterator[str]:
    FakeOsv.queries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOsv)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    server.shutdown()
    server.server_close()


@pytest.fixture
def locked(tmp_path: Path) -> Path:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(LOCKED + "\n")
    return requirements


def allow_list(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / ".audit-ignore.yaml"
    path.write_text(yaml.safe_dump({"vulnerabilities": entries}))
    return path


def test_pip_audit_fails_on_a_known_vulnerability_in_a_lock(osv_url: str, locked: Path) -> None:
    with pytest.raises(HangarError, match=r"pip-audit failed for requirements\.txt"):
        audit.pip_audit(locked, ignored=set(), osv_url=osv_url)
    assert FakeOsv.queries == [
        {"package": {"name": LOCKED_NAME, "ecosystem": "PyPI"}, "version": LOCKED_VERSION}
    ]


@pytest.mark.parametrize("accepted", ["PYSEC-2026-0001", "GHSA-test-0001"], ids=["id", "alias"])
def test_an_accepted_finding_passes(osv_url: str, locked: Path, accepted: str) -> None:
    audit.pip_audit(locked, ignored={accepted}, osv_url=osv_url)


@pytest.mark.parametrize(
    "entry",
    [
        {"id": "GHSA-1", "statement": "not reachable", "expired_at": datetime.date(2026, 12, 6)},
        {"id": "GHSA-2", "expired_at": datetime.date(2099, 1, 1)},
        {"id": "GHSA-3", "statement": "not reachable"},
        {"id": "GHSA-4", "statement": "not reachable", "expired_at": "soon"},
    ],
    ids=["expired", "no statement", "no expiry", "expiry not a date"],
)
def test_an_allow_list_entry_past_its_date_or_without_reason_fails_before_any_service(
    tmp_path: Path, entry: dict
) -> None:
    nowhere = audit.Services(osv_url="http://127.0.0.1:9/", npm_registry="http://127.0.0.1:9/")

    with pytest.raises(HangarError, match=f"\\.audit-ignore\\.yaml: {entry['id']}: "):
        audit.audit(nowhere, TODAY, {}, allow_list(tmp_path, [entry]))


def test_the_project_allow_lists_hold_no_expired_or_unexplained_entry() -> None:
    audit.check_allow_lists((audit.ALLOW_LIST, audit.TRIVY_ALLOW_LIST), datetime.date.today())


def test_an_unreachable_service_fails_the_audit_unless_the_machine_is_declared_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {"id": "GHSA-5", "statement": "ok", "expired_at": datetime.date(2099, 1, 1)}
    accepted = allow_list(tmp_path, [entry])
    nowhere = audit.Services(osv_url="http://127.0.0.1:9/", npm_registry="http://127.0.0.1:9/")

    with pytest.raises(HangarError, match="the locks were not audited"):
        audit.audit(nowhere, TODAY, {}, accepted)
    not_run = audit.audit(nowhere, TODAY, {"HANGAR_AUDIT_OFFLINE": "warn"}, accepted)

    assert [reason.split(" (")[0] for reason in not_run] == ["OSV", "npm's audit service"]


def test_make_lint_runs_the_audit_and_dot_ci_run_repeats_what_it_could_not_audit() -> None:
    lint = (ROOT / "Makefile").read_text().split("\nlint:")[1].split("\n\n")[0]
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "$(HANGAR) audit" in lint
    assert 'export HANGAR_AUDIT_OFFLINE="${HANGAR_AUDIT_OFFLINE:-warn}"' in ci_run
    assert "make audit >.hangar/ci-audit.log" in ci_run
    assert f'grep "{audit.OFFLINE_NOTICE}" .hangar/ci-audit.log' in ci_run


def test_npm_findings_name_each_advisory_but_the_accepted_ones() -> None:
    # The shape of `npm audit --json` (npm 7 and later): advisories are the `via` entries that are
    # objects; a string names the package whose advisory it inherits.
    report = {
        "vulnerabilities": {
            "tar": {
                "via": [
                    {
                        "url": "https://github.com/advisories/GHSA-aaaa-bbbb-cccc",
                        "title": "Arbitrary file write",
                        "range": "<6.2.1",
                    }
                ]
            },
            "cacache": {"via": ["tar"]},
        }
    }

    assert audit.npm_findings(report, set()) == [
        "tar <6.2.1: GHSA-aaaa-bbbb-cccc Arbitrary file write"
    ]
    assert audit.npm_findings(report, {"GHSA-aaaa-bbbb-cccc"}) == []


def test_the_audited_requirements_are_the_locks_pins_not_the_workspaces_source(
    tmp_path: Path,
) -> None:
    """pip-audit --require-hashes refuses a line without a hash: the workspace member (hangar,
    scripts/) as `-e ./scripts` would fail every audit."""
    exported = audit.uv_lock_requirements(tmp_path / "requirements.txt").read_text()
    requirements = [line for line in exported.splitlines() if line[:1] not in "# "]
    assert any(line.startswith("django==") for line in requirements), "the export names nothing"
    assert all("==" in line for line in requirements), [r for r in requirements if "==" not in r]


def test_a_repository_without_allow_lists_accepts_nothing(tmp_path: Path) -> None:
    """`hangar init` writes neither .audit-ignore.yaml nor .trivyignore.yaml: the audit runs."""
    missing = tmp_path / ".audit-ignore.yaml"
    audit.check_allow_lists((missing, tmp_path / ".trivyignore.yaml"), datetime.date.today())
    assert audit.accepted_ids(missing) == set()
