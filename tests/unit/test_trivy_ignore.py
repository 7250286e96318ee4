"""The image scan's allow-list (.trivyignore.yaml): each accepted finding says why, until when.

The same rule as the locks' audit allow-list (hangar.provision.audit), which `make lint` applies to
both files."""

import datetime
from typing import Any

import pytest
import yaml

from hangar.core.paths import ROOT
from hangar.provision.audit import allow_list_problems as problems

IGNORE_FILE = ROOT / ".trivyignore.yaml"


def test_every_accepted_finding_has_a_reason_and_an_expiry_not_yet_passed() -> None:
    document = yaml.safe_load(IGNORE_FILE.read_text())
    assert set(document) == {"vulnerabilities"}
    assert problems(document, datetime.date.today()) == []


@pytest.mark.parametrize(
    "entry",
    [
        {"id": "CVE-2026-0001", "expired_at": datetime.date(2099, 1, 1)},
        {"id": "CVE-2026-0002", "statement": "not reachable"},
        {"id": "CVE-2026-0003", "statement": "not reachable", "expired_at": "soon"},
        {"id": "CVE-2026-0004", "statement": "ok", "expired_at": datetime.date(2026, 1, 1)},
    ],
    ids=["no statement", "no expiry", "expiry not a date", "expired"],
)
def test_an_entry_without_reason_or_expiry_or_expired_is_rejected(entry: dict[str, Any]) -> None:
    assert problems({"vulnerabilities": [entry]}, datetime.date(2026, 11, 28)) != []
