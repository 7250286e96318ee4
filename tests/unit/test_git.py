"""hangar.core.git: the checkout's commit, read in one place."""

import re
import subprocess
from pathlib import Path

import pytest

from hangar.core import git
from hangar.core.errors import HangarError


def test_head_commit_is_the_full_sha_git_reports() -> None:
    expected = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=git.ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git.head_commit() == expected
    assert re.fullmatch(r"[0-9a-f]{40}", expected)


def test_outside_a_repository_the_error_says_to_pass_a_tag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(git, "ROOT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    with pytest.raises(HangarError, match="cannot read the git commit") as error:
        git.head_commit()
    assert error.value.hint == "pass --image-tag <tag>"
