"""The thin files: rendered from the package's templates (this repository's copies are that render,
like any adopter's), recorded for upgrades, merged with real git by `hangar upgrade`, which keeps
the team's edits or writes nothing on a conflict, and checked by `hangar upgrade --check` in
`make lint`.

An earlier release is stood in for by its record: what it rendered is the merge base, so a record
whose base lacks a line the templates now have is what a version bump leaves
(tests/e2e/test_upgrade_from_wheel.py does it with a real earlier wheel)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hangar.adopt.thin_files import (
    MARKER,
    RECORD,
    TEMPLATE_SUFFIX,
    Record,
    merge,
    names,
    package_version,
    read_record,
    render,
    rendered,
    write_record,
)
from hangar.adopt.upgrade import UPGRADE, drift
from hangar.core.paths import ROOT

VERSION = package_version()
OLD = "0.0.1"
# The line of the Makefile the stand-in earlier release did not render yet.
NEW_LINE = ".DEFAULT_GOAL := help\n"


def hangar_upgrade(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hangar", "upgrade", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def files_of(repo: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()
    }


def not_rendered(repo: Path) -> list[str]:
    """The thin files of `repo` that differ from what this version renders."""
    return [name for name in names() if (repo / name).read_text() != render(name, VERSION)]


def old_render(name: str) -> str:
    """What the stand-in earlier release rendered: its marker, and the Makefile without NEW_LINE."""
    text = render(name, VERSION).replace(f"hangar {VERSION};", f"hangar {OLD};")
    return text.replace(NEW_LINE, "", 1) if name == "Makefile" else text


@pytest.fixture
def adopted(tmp_path: Path) -> Path:
    """A repository whose thin files and record the earlier release wrote, committed."""
    repo = tmp_path / "shop"
    repo.mkdir()
    files = {name: old_render(name) for name in names()}
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    write_record(repo, Record(OLD, files))
    return repo


def test_this_repository_holds_what_the_templates_render() -> None:
    assert not_rendered(ROOT) == [], "run `hangar upgrade` (the templates are the source)"
    assert drift(ROOT) == ([], [])


def test_every_template_and_rendered_file_is_committed() -> None:
    """A pattern of .gitignore (`.env*`) must not leave a template or its render out of a commit."""
    templates = [f"scripts/hangar/templates/{name}{TEMPLATE_SUFFIX}" for name in names()]
    wanted = [*templates, *names(), RECORD]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *wanted], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert ignored == []


def test_the_reference_check_sees_a_file_that_differs(tmp_path: Path) -> None:
    for name in names():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    assert not_rendered(tmp_path) == []
    with (tmp_path / "compose.yaml").open("a") as compose:
        compose.write("# a local change\n")
    assert not_rendered(tmp_path) == ["compose.yaml"]


def test_the_marker_follows_a_shebang_and_names_the_version() -> None:
    marker = MARKER.format(version=VERSION).rstrip("\n")
    script = render(".github/notify-failure.sh", VERSION).splitlines()
    assert script[0].startswith("#!")
    assert script[1] == marker
    assert render("Makefile", VERSION).splitlines()[0] == marker
    # Strict JSON stays strict JSON.
    json.loads(render(".devcontainer/devcontainer.json", VERSION))


def test_the_record_is_stable_and_one_line_per_line(tmp_path: Path) -> None:
    files = rendered(VERSION)
    write_record(tmp_path, Record(VERSION, dict(reversed(files.items()))))
    first = (tmp_path / RECORD).read_bytes()
    write_record(tmp_path, Record(VERSION, files))
    assert (tmp_path / RECORD).read_bytes() == first
    data = json.loads(first)
    assert list(data["files"]) == sorted(files)
    assert data["files"]["Makefile"][:2] == render("Makefile", VERSION).splitlines(True)[:2]
    assert read_record(tmp_path) == Record(VERSION, files)


def test_a_broken_record_is_one_line(tmp_path: Path) -> None:
    (tmp_path / RECORD).write_text("{")
    result = hangar_upgrade(tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot read {tmp_path / RECORD}: ")
    assert "Traceback" not in result.stderr


def test_merge_keeps_both_sides_with_real_git() -> None:
    base = "a\nb\nc\nd\ne\n"
    text, clean = merge("a\nB\nc\nd\ne\n", base, "a\nb\nc\nd\nE\n", ("yours", "old", "new"))
    assert (text, clean) == ("a\nB\nc\nd\nE\n", True)
    text, clean = merge("a\nX\nc\n", "a\nb\nc\n", "a\nY\nc\n", ("yours", "old", "new"))
    assert not clean
    assert "<<<<<<< yours\nX\n||||||| old\nb\n=======\nY\n>>>>>>> new\n" in text


def test_upgrade_renders_untouched_files_and_keeps_an_edit(adopted: Path) -> None:
    makefile = adopted / "Makefile"
    makefile.write_text(makefile.read_text() + "\nseed: ## the team's target\n\tmake manage\n")
    (adopted / "Dockerfile").unlink()

    result = hangar_upgrade(adopted)

    assert result.returncode == 0, result.stderr
    assert "Makefile: merged, your edits kept" in result.stdout.splitlines()
    assert "Dockerfile: re-created" in result.stdout.splitlines()
    assert "compose.yaml: rendered" in result.stdout.splitlines()
    text = makefile.read_text()
    assert NEW_LINE in text
    assert text.endswith("\nseed: ## the team's target\n\tmake manage\n")
    assert text.startswith(f"# Generated by hangar {VERSION};")
    assert not_rendered(adopted) == ["Makefile"]
    assert read_record(adopted) == Record(VERSION, rendered(VERSION))
    assert hangar_upgrade(adopted, "--check").returncode == 0


def test_a_conflict_writes_nothing(adopted: Path) -> None:
    makefile = adopted / "Makefile"
    # The team changed the line right where the new release adds one.
    makefile.write_text(makefile.read_text().replace("SHELL := /bin/bash\n", "SHELL := zsh\n"))
    before = files_of(adopted)

    result = hangar_upgrade(adopted)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Makefile: your edits and hangar {VERSION}'s change overlap; nothing was written: run "
        "`hangar upgrade --conflicts` to write the files with conflict markers, resolve them, "
        "then commit"
    ]
    assert files_of(adopted) == before

    result = hangar_upgrade(adopted, "--conflicts")
    assert result.returncode == 0, result.stderr
    assert "<<<<<<< yours\nSHELL := zsh\n" in makefile.read_text()
    assert read_record(adopted) == Record(VERSION, rendered(VERSION))


def check_lines(repo: Path) -> tuple[int, list[str], list[str]]:
    result = hangar_upgrade(repo, "--check")
    return result.returncode, result.stdout.splitlines(), result.stderr.splitlines()


def test_the_drift_check_fails_on_a_stale_record_and_passes_after_upgrade(adopted: Path) -> None:
    before = files_of(adopted)
    code, _, errors = check_lines(adopted)
    assert code == 1
    assert f"Makefile: rendered by hangar {OLD}, this is {VERSION}: run `hangar upgrade`" in errors
    # Every file whose marker names the version; a JSON file has none, so it is not behind.
    assert len(errors) == len([name for name in names() if not name.endswith(".json")])
    assert files_of(adopted) == before

    assert hangar_upgrade(adopted).returncode == 0
    assert check_lines(adopted) == (
        0,
        [f"the thin files are hangar {VERSION}'s ({RECORD})"],
        [],
    )


def test_the_drift_check_lists_edits_and_fails_on_missing_files(adopted: Path) -> None:
    assert hangar_upgrade(adopted).returncode == 0
    with (adopted / "compose.yaml").open("a") as compose:
        compose.write("# the team's note\n")
    code, out, _ = check_lines(adopted)
    assert code == 0
    assert f"compose.yaml: edited after hangar {VERSION} rendered it (kept)" in out

    (adopted / "infra" / "app.py").unlink()
    code, _, errors = check_lines(adopted)
    assert (code, errors) == (1, ["infra/app.py: missing: run `hangar upgrade` to re-create it"])

    (adopted / RECORD).unlink()
    code, _, errors = check_lines(adopted)
    assert (code, errors) == (
        1,
        [f"{RECORD}: missing, so upgrades cannot merge: run `hangar upgrade`, then commit it"],
    )


def test_the_drift_check_names_a_template_changed_within_a_version(adopted: Path) -> None:
    """The record says this version rendered the Makefile, but from an older template (an
    unreleased change to it): behind, and the message says what changed."""
    assert hangar_upgrade(adopted).returncode == 0
    record = read_record(adopted)
    assert record is not None
    files = {**record.files, "Makefile": record.files["Makefile"] + "# an older template\n"}
    write_record(adopted, Record(VERSION, files))

    code, _, errors = check_lines(adopted)
    assert (code, errors) == (
        1,
        [f"Makefile: its template changed since hangar {VERSION} rendered it: {UPGRADE}"],
    )
