"""`hangar upgrade`: re-render the thin files with this version of Hangar, keeping the team's edits.

Per file: current (the file), base (what the record says was rendered), new (what this version
renders). current == base: the new render is written; base == new: the file is kept; otherwise
git merge-file merges them. A conflict writes nothing at all unless `--conflicts` asks for the
files with conflict markers. `--check` (in `make lint`) fails when the files are behind this
version, and lists the team's edits without failing.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hangar.adopt.thin_files import (
    RECORD,
    Record,
    merge,
    package_version,
    read_file,
    read_record,
    rendered,
    repository,
    write_file,
    write_record,
)

UPGRADE = "run `hangar upgrade`"


@dataclass(frozen=True)
class Outcome:
    """What upgrading does to one file: `text` is what the file then holds."""

    name: str
    text: str
    state: str
    conflict: bool = False


def outcome(name: str, current: str | None, base: str | None, new: str, old: str) -> Outcome:
    if current is None:
        return Outcome(name, new, "re-created")
    if current == new:
        return Outcome(name, new, "unchanged")
    if current == base:
        return Outcome(name, new, "rendered")
    if base == new:
        return Outcome(name, current, "unchanged, your edits kept")
    # No base (a file the record does not know): every line the two differ in is a conflict.
    text, clean = merge(current, base or "", new, ("yours", f"hangar {old}", "this hangar"))
    if clean:
        return Outcome(name, text, "merged, your edits kept")
    return Outcome(name, text, "conflict", conflict=True)


def plan(repo: Path, record: Record | None, new_files: dict[str, str]) -> list[Outcome]:
    old = record.version if record else "(no record)"
    bases = record.files if record else {}
    return [
        outcome(name, read_file(repo, name), bases.get(name), new, old)
        for name, new in new_files.items()
    ]


def upgrade(repo: Path, with_conflicts: bool) -> int:
    version = package_version()
    new_files = rendered(version)
    outcomes = plan(repo, read_record(repo), new_files)
    conflicts = [o.name for o in outcomes if o.conflict]
    if conflicts and not with_conflicts:
        for name in conflicts:
            print(
                f"{name}: your edits and hangar {version}'s change overlap; nothing was written: "
                "run `hangar upgrade --conflicts` to write the files with conflict markers, "
                "resolve them, then commit",
                file=sys.stderr,
            )
        return 1
    for item in outcomes:
        if read_file(repo, item.name) != item.text:
            write_file(repo, item.name, item.text)
        print(f"{item.name}: {item.state}")
    write_record(repo, Record(version, new_files))
    if conflicts:
        print(f"resolve the conflict markers in {', '.join(conflicts)}, then commit")
    print(f"{RECORD}: hangar {version}")
    return 0


def drift(repo: Path) -> tuple[list[str], list[str]]:
    """(what fails `make lint`, the team's edits it lists), one line per file."""
    version = package_version()
    record = read_record(repo)
    if record is None:
        return [f"{RECORD}: missing, so upgrades cannot merge: {UPGRADE}, then commit it"], []
    failures, edits = [], []
    for name, new in rendered(version).items():
        current, base = read_file(repo, name), record.files.get(name)
        if current is None:
            failures.append(f"{name}: missing: {UPGRADE} to re-create it")
        elif base != new:
            behind = (
                f"rendered by hangar {record.version}, this is {version}"
                if record.version != version
                else f"its template changed since hangar {version} rendered it"
            )
            failures.append(f"{name}: {behind}: {UPGRADE}")
        elif current != base:
            edits.append(f"{name}: edited after hangar {record.version} rendered it (kept)")
    return failures, edits


def check(repo: Path) -> int:
    failures, edits = drift(repo)
    for line in edits:
        print(line)
    for line in failures:
        print(line, file=sys.stderr)
    if not failures:
        print(f"the thin files are hangar {package_version()}'s ({RECORD})")
    return 1 if failures else 0


def run_upgrade(args: argparse.Namespace) -> int:
    repo = repository(args.repo)
    return check(repo) if args.check else upgrade(repo, args.conflicts)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "upgrade",
        help="re-render the thin files (Makefile, compose.yaml, ...) with this version of "
        "Hangar, keeping your edits (--check: fail when they are behind it)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--repo", help="the repository's folder (default: the current one)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail when a file or the record is missing or behind this version",
    )
    mode.add_argument(
        "--conflicts",
        action="store_true",
        help="when edits conflict, write the files with conflict markers to resolve by hand",
    )
    parser.set_defaults(func=run_upgrade)
