"""The AWS CLI v2 that `hangar aws` and `hangar remote-shell` run, installed by the user.

v2 is not on PyPI, and v1 (maintenance mode) pinned old rsa and docutils into the lock for two
commands, so the lock has no AWS CLI: these commands find v2 on PATH and say how to install it.
"""

import re
import shutil
import subprocess
from collections.abc import Callable

from hangar.core.errors import HangarError

INSTALL_HINT = (
    "install the AWS CLI v2: `sudo apt-get install awscli` (Debian 12 and later ship v2), "
    "`brew install awscli`, or AWS's installer "
    "(https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
)
VERSION_TIMEOUT = 30.0


def version_of(executable: str) -> tuple[str | None, str]:
    """The version `executable --version` reports (None if it says none), and what it printed."""
    try:
        done = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    output = (done.stdout + done.stderr).strip()
    match = re.match(r"aws-cli/(\S+)", output)
    return (match.group(1) if match else None), output


def aws_cli_v2(which: Callable[[str], str | None] = shutil.which) -> str:
    """The `aws` on PATH if it is the AWS CLI v2; otherwise an error that says how to get it."""
    found = which("aws")
    if found is None:
        raise HangarError("the AWS CLI is not installed (no `aws` on PATH)", INSTALL_HINT)
    version, output = version_of(found)
    if version is None:
        last_line = output.splitlines()[-1] if output else "no output"
        raise HangarError(f"{found} --version does not name an AWS CLI: {last_line}", INSTALL_HINT)
    if not version.startswith("2."):
        raise HangarError(f"{found} is the AWS CLI {version}; Hangar needs v2", INSTALL_HINT)
    return found
