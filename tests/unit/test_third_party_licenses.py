"""Every dependency under a copyleft licence is named in docs/third-party-licenses.md, and the
project carries its own licence, security policy and code owners."""

import json
import re
from importlib.metadata import distributions
from pathlib import Path

from hangar.core.paths import ROOT

NOTE = ROOT / "docs" / "third-party-licenses.md"
COPYLEFT = re.compile(r"\b(A?GPL|LGPL|MPL|EPL|Mozilla Public|GNU)\b", re.IGNORECASE)


def python_licenses() -> dict[str, str]:
    """Installed package → its licence (the expression, else the classifiers, else the field)."""
    found = {}
    for dist in distributions():
        meta = dist.metadata
        classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
        found[meta["Name"].lower()] = (
            meta.get("License-Expression") or "; ".join(classifiers) or meta.get("License") or ""
        )
    return found


def npm_licenses(lock: Path = ROOT / "package-lock.json") -> dict[str, str]:
    packages = json.loads(lock.read_text())["packages"]
    return {
        path.rsplit("node_modules/", 1)[1]: str(entry.get("license", ""))
        for path, entry in packages.items()
        if path
    }


def unnamed_copyleft(licenses: dict[str, str], note: str) -> list[str]:
    return sorted(
        f"{name} ({license})"
        for name, license in licenses.items()
        if COPYLEFT.search(license) and f"`{name}`" not in note
    )


def all_licenses() -> dict[str, str]:
    return {**python_licenses(), **npm_licenses()}


def test_every_copyleft_dependency_is_named_in_the_note() -> None:
    assert unnamed_copyleft(all_licenses(), NOTE.read_text()) == []


def test_the_check_rejects_a_note_that_leaves_one_out() -> None:
    note = NOTE.read_text().replace("`@cloud-copilot/iam-simulate`", "the IAM simulator")
    assert unnamed_copyleft(all_licenses(), note) == [
        "@cloud-copilot/iam-simulate (AGPL-3.0-or-later)"
    ]


def test_the_project_is_apache_2_licensed_with_a_security_policy_and_code_owners() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in license_text
    assert "Copyright 2026 The Hangar Authors" in license_text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
    assert "Report a vulnerability" in (ROOT / "SECURITY.md").read_text()
    owners = [
        line.split()
        for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert owners[0][0] == "*"
    assert all(re.fullmatch(r"@[\w-]+(/[\w-]+)?", owner) for line in owners for owner in line[1:])
