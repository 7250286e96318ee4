"""The container tests' HTTP helper and a copy of the checkout's files; the compose project itself
is hangar.testing.containers'."""

import shutil
import subprocess
import urllib.request
from pathlib import Path

from hangar.core.paths import ROOT


def http(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Status and body; only ever called with the http://127.0.0.1 URLs of this run."""
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, response.read()


def copy_checkout_files(destination: Path, *, leave_out: str | None = None) -> None:
    """Copy the checkout's files as git sees them (tracked, or new and not ignored) below
    `destination`, except those under the folder `leave_out`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if (leave_out and name.startswith(f"{leave_out}/")) or not source.is_file():
            continue  # not a file: deleted but not yet committed, git still lists it
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination / name)
