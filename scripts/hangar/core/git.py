"""The checkout's git state: the one place the CLI asks git (the commit is the image tag)."""

import subprocess

from hangar.core.errors import HangarError
from hangar.core.paths import ROOT


def git(*args: str) -> str:
    """`git <args>` in the checkout; its output, or a HangarError with git's own message."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        )
    except OSError as error:
        raise HangarError(f"cannot run git: {error}", hint="install git") from error
    if result.returncode != 0:
        raise HangarError(f"`git {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def head_commit() -> str:
    """The full SHA of the checked-out commit."""
    try:
        return git("rev-parse", "HEAD")
    except HangarError as error:
        raise HangarError(
            f"cannot read the git commit to use as image tag: {error.message}",
            hint="pass --image-tag <tag>",
        ) from error


def has_uncommitted_changes(*, untracked: bool = True) -> bool:
    """Whether the working tree differs from HEAD (tracked files only with untracked=False)."""
    return bool(git("status", "--porcelain", f"--untracked-files={'all' if untracked else 'no'}"))
