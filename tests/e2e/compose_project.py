"""The test run's compose project (`docker compose` bound to this checkout) and HTTP helpers."""

import subprocess
import urllib.request
from dataclasses import dataclass, field

from hangar import docker


def http(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Status and body; only ever called with the http://127.0.0.1 URLs of this run."""
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, response.read()


@dataclass
class Compose:
    project: str
    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)

    def run(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*docker.compose_command(self.project), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} failed (exit {result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def logs(self) -> str:
        return self.run("logs", "--no-color", "--tail=80", check=False).stdout
