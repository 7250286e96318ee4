"""Running the tools the CLI drives as child processes: failing with their output, or probing."""

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from hangar.core.errors import HangarError


def run(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: IO[bytes] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command`, failing with its output when it fails, so a broken step says why."""
    result = subprocess.run(
        command, cwd=cwd, env=env, stdin=stdin, text=True, capture_output=True, check=False
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()[-2000:]
        raise HangarError(f"`{' '.join(command)}` failed (exit {result.returncode}):\n{output}")
    return result


def succeeds(command: Sequence[str], timeout: float = 30.0) -> bool:
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
