"""The image scan's allow-list (.trivyignore.yaml): each accepted finding says why, until when."""

import datetime
from typing import Any

import pytest
import yaml

from hangar.core.paths import ROOT

IGNORE_FILE = ROOT / ".trivyignore.yaml"


def problems(document: dict[str, Any], today: datetime.date) -> list[str]:
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
