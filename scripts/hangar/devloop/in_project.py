"""Where compose's app services start: in the Django project `[tool.hangar]` names.

compose.yaml names no project. Its web, worker and migrate commands, and web's health check, run
through this module, which reads the contract from the checkout mounted at /app/src each time a
process starts: the project folder (the working directory), the settings module, the worker's
command and the health path. An adopted project's values reach the containers without an edit to
compose.yaml and cannot go stale, whether the hangar CLI started compose or not (the dev
container). It imports only the standard library and the contract, as the dev image has no more.

Usage: python -m hangar.devloop.in_project COMMAND [ARG...]
       python -m hangar.devloop.in_project --worker         the first queue's worker-command
       python -m hangar.devloop.in_project --health-check PORT
"""

import os
import sys
import urllib.request
from collections.abc import Sequence

from hangar.core.contract import Contract, ContractError, load

# How the CLI runs a command of its own in a running app container (`compose exec`, which starts
# in the image's working directory with the service's environment, not the project's).
IN_PROJECT = ("python", "-m", "hangar.devloop.in_project")
MANAGE_PY = (*IN_PROJECT, "python", "manage.py")
USAGE = "usage: python -m hangar.devloop.in_project {COMMAND [ARG...],--worker,--health-check PORT}"


def main(argv: Sequence[str]) -> int:
    if not argv:
        return fail(USAGE)
    try:
        app = load()
    except ContractError as error:
        return fail(f"error: {error}")
    if argv[0] == "--health-check":
        return health_check(app, argv[1:])
    command = list(argv)
    if argv[0] == "--worker":
        if app.worker_command is None:
            # The dev container names the worker service whatever the contract says: it ends
            # cleanly, so compose's restart policy leaves it stopped.
            print("[tool.hangar] declares no queue with a worker-command: no worker to run")
            return 0
        command = list(app.worker_command)
    os.chdir(app.project_path)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", app.settings_module)
    try:
        os.execvp(command[0], command)  # noqa: S606 - the service's own command line
    except OSError as error:
        return fail(f"error: cannot run {command[0]!r} in {app.project_path}: {error}")


def health_check(app: Contract, argv: Sequence[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        return fail(USAGE)
    url = f"http://127.0.0.1:{argv[0]}{app.health_path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 0 if response.status == 200 else fail(f"{url}: {response.status}")
    except OSError as error:
        return fail(f"{url}: {error}")


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1  # a health check's `unhealthy`


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
