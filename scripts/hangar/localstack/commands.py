"""LocalStack for development and tests: `hangar localstack up|down|status|logs`, `aws`.

Two modes, one version. Container mode (the compose service `localstack`) when a Docker engine
answers, host mode (the PyPI runtime in .hangar/localstack/venv) otherwise;
HANGAR_LOCALSTACK_MODE=host|docker forces one. A LocalStack that already answers on the endpoint is
reused, never restarted, and `down` stops only what Hangar started.

Python API, for tooling and the test harness: `ensure_running()`, `is_healthy()`, `stop()`.
"""

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hangar.core import console, ports
from hangar.core.aws_cli import aws_cli_v2
from hangar.core.errors import HangarError
from hangar.core.versions import LOCALSTACK_VERSION
from hangar.localstack import docker as localstack_docker
from hangar.localstack import host as localstack_host
from hangar.localstack.endpoint import (
    Endpoint,
    configured_endpoint,
    health,
    info,
    is_healthy,
    parse_endpoint,
)

__all__ = ["LocalStackHandle", "choose_mode", "ensure_running", "is_healthy", "stop"]

Mode = Literal["host", "docker"]
RunningMode = Literal["host", "docker", "external"]
MODES: tuple[Mode, ...] = ("host", "docker")
DEFAULT_START_TIMEOUT = 120.0
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class LocalStackHandle:
    endpoint: str
    mode: RunningMode
    started_by_us: bool

    def stop(self) -> None:
        """Stop LocalStack if this handle started it; a reused instance is left running."""
        if not self.started_by_us:
            return
        endpoint = parse_endpoint(self.endpoint, source="the handle's endpoint")
        if self.mode == "docker":
            localstack_docker.down(endpoint)
        else:
            localstack_host.stop(localstack_host.RunDir.for_port(endpoint.port))


def choose_mode(requested: str | None = None) -> Mode:
    """`requested`, else HANGAR_LOCALSTACK_MODE, else docker when an engine and compose answer."""
    choice = (requested or os.environ.get("HANGAR_LOCALSTACK_MODE", "")).strip().lower()
    if choice == "host":
        return "host"
    if choice == "docker":
        if not localstack_docker.docker_usable():
            raise HangarError(
                "HANGAR_LOCALSTACK_MODE=docker, but no Docker engine with the compose plugin "
                "answers (`docker info` / `docker compose version` failed)",
                "start the engine (e.g. `sudo systemctl start docker`), "
                "or use HANGAR_LOCALSTACK_MODE=host",
            )
        return "docker"
    if choice:
        raise HangarError(
            f"HANGAR_LOCALSTACK_MODE={choice!r} is not a mode",
            "use host or docker, or unset it to pick automatically",
        )
    return "docker" if localstack_docker.docker_usable() else "host"


def start_timeout() -> float:
    raw = os.environ.get("HANGAR_LOCALSTACK_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_START_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise HangarError(
            f"HANGAR_LOCALSTACK_TIMEOUT={raw!r} is not a number of seconds",
            "set it to e.g. 180, or unset it",
        )
    return seconds


def ensure_running(mode: str | None = None) -> LocalStackHandle:
    """Reuse the LocalStack answering on the configured endpoint, or start one."""
    endpoint = configured_endpoint()
    if is_healthy(endpoint.url):
        _refuse_another_checkouts(endpoint)
        return LocalStackHandle(endpoint.url, running_mode(endpoint), started_by_us=False)
    _check_port_free(endpoint)
    chosen = choose_mode(mode)
    timeout = start_timeout()
    if chosen == "docker":
        localstack_docker.up(endpoint, timeout)
    else:
        if os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            console.warn(
                "LOCALSTACK_AUTH_TOKEN is set, but host mode runs the community "
                f"{LOCALSTACK_VERSION} runtime: "
                "LocalStack Pro needs the container image "
                "(run Docker, HANGAR_LOCALSTACK_MODE=docker)"
            )
        localstack_host.start(endpoint, timeout)
    return LocalStackHandle(endpoint.url, chosen, started_by_us=True)


def _pick_another_port() -> str:
    spare = next(port for port in range(4610, 4700) if ports.is_free(port))
    return (
        f"pick a free port: HANGAR_LOCALSTACK_PORT={spare} "
        f"or LOCALSTACK_ENDPOINT=http://127.0.0.1:{spare}"
    )


def _refuse_another_checkouts(endpoint: Endpoint) -> None:
    """Another checkout's compose LocalStack is not reused: deploy-local would replace that
    checkout's stage with this one's (the same stack names where the service names match)."""
    if not endpoint.is_local:
        return
    container = ports.publishing_container(endpoint.port)
    if container and container.of_another_checkout:
        raise ports.port_taken(endpoint.port, "LocalStack", _pick_another_port())


def _check_port_free(endpoint: Endpoint) -> None:
    if not endpoint.is_local:
        raise HangarError(
            f"no LocalStack answers at {endpoint.url}, and Hangar only starts one on this machine",
            "start LocalStack on that host, or unset LOCALSTACK_ENDPOINT to use a local one",
        )
    if not ports.is_free(endpoint.port, endpoint.bind_host):
        error = ports.port_taken(endpoint.port, "LocalStack", _pick_another_port())
        raise HangarError(
            f"{error.message}, and it is not LocalStack "
            f"({endpoint.url}/_localstack/health does not answer)",
            error.hint,
        )


def running_mode(endpoint: Endpoint) -> RunningMode:
    """How the LocalStack answering on `endpoint` was started: by Hangar (host/docker) or not."""
    if localstack_host.read_running(localstack_host.RunDir.for_port(endpoint.port)) is not None:
        return "host"
    if localstack_docker.docker_usable() and localstack_docker.service_running(endpoint):
        return "docker"
    return "external"


def stop() -> bool:
    """Stop the LocalStack Hangar started on the configured endpoint; False when there was none."""
    endpoint = configured_endpoint()
    run_dir = localstack_host.RunDir.for_port(endpoint.port)
    if localstack_host.stop(run_dir) is not None:
        return True
    if localstack_docker.docker_usable() and localstack_docker.service_running(endpoint):
        localstack_docker.down(endpoint)
        return True
    return False


# --- CLI --------------------------------------------------------------------------------------


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "localstack",
        help=f"start, stop and inspect LocalStack {LOCALSTACK_VERSION}",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up", help="start LocalStack, or reuse the one answering on the endpoint"
    )
    up.add_argument("--mode", choices=MODES, help="override HANGAR_LOCALSTACK_MODE")
    up.set_defaults(func=_cmd_up)
    actions.add_parser("down", help="stop the LocalStack Hangar started").set_defaults(
        func=_cmd_down
    )
    actions.add_parser(
        "status", help="mode, version, endpoint, uptime; exits 1 when not running"
    ).set_defaults(func=_cmd_status)
    logs = actions.add_parser("logs", help="print LocalStack's log")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.set_defaults(func=_cmd_logs)

    aws = subparsers.add_parser(
        "aws",
        help="run the AWS CLI against LocalStack (fake credentials test/test, us-east-1)",
        description="Runs `aws --endpoint-url <LocalStack> ARGS...`, e.g. `hangar aws s3 ls`.",
        prefix_chars="+",  # every `-`/`--` option belongs to the AWS CLI, not to hangar
    )
    aws.add_argument("aws_args", nargs=argparse.REMAINDER, metavar="ARGS")
    aws.set_defaults(func=_cmd_aws)


def _cmd_up(args: argparse.Namespace) -> int:
    handle = ensure_running(args.mode)
    if handle.started_by_us:
        console.info(f"LocalStack is up ({handle.mode} mode) at {handle.endpoint}")
    else:
        console.info(f"LocalStack already answers at {handle.endpoint} ({handle.mode}); reusing it")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    endpoint = configured_endpoint()
    if stop():
        console.info(f"LocalStack on {endpoint.url} stopped")
    elif is_healthy(endpoint.url):
        console.info(f"LocalStack on {endpoint.url} was not started by Hangar; left it running")
    else:
        console.info(f"nothing to stop: no LocalStack started by Hangar on {endpoint.url}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    endpoint = configured_endpoint()
    document = health(endpoint.url)
    if document is None:
        console.info(f"LocalStack: not running at {endpoint.url}")
        return 1
    details = info(endpoint.url) or {}
    version = details.get("version") or document.get("version") or "unknown"
    process = localstack_host.read_running(localstack_host.RunDir.for_port(endpoint.port))
    if process is not None:
        uptime: float | None = time.time() - process.started_at
        mode_text = f"host (started by hangar, pid {process.pid})"
    else:
        # Asked only here: it probes Docker (three subprocesses), and a host process answers first.
        uptime = details.get("uptime")
        mode_text = {
            "host": "host",
            "docker": "docker (compose service localstack)",
            "external": "external (not started by hangar)",
        }[running_mode(endpoint)]
    console.info("LocalStack: running")
    console.info(f"  mode:     {mode_text}")
    console.info(f"  version:  {version}")
    console.info(f"  endpoint: {endpoint.url}")
    console.info(f"  uptime:   {_duration(uptime)}")
    return 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _cmd_logs(args: argparse.Namespace) -> int:
    endpoint = configured_endpoint()
    if running_mode(endpoint) == "docker":
        return localstack_docker.logs(endpoint, args.follow)
    log_file = localstack_host.RunDir.for_port(endpoint.port).log_file
    if not log_file.exists():
        raise HangarError(
            f"no LocalStack log for {endpoint.url}: Hangar has not started one there in host mode",
            "run `hangar localstack up` first; "
            "a container's log is in `docker compose logs localstack`",
        )
    _print_log(log_file, args.follow)
    return 0


def _print_log(log_file: Path, follow: bool) -> None:
    with log_file.open("r", errors="replace") as handle:
        sys.stdout.write(handle.read())
        sys.stdout.flush()
        while follow:
            line = handle.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.3)


def _cmd_aws(args: argparse.Namespace) -> int:
    aws = aws_cli_v2()
    endpoint = configured_endpoint()
    if not is_healthy(endpoint.url):
        raise HangarError(
            f"LocalStack is not answering at {endpoint.url}", "start it with `make localstack-up`"
        )
    env = {key: value for key, value in os.environ.items() if key != "AWS_PROFILE"}
    env.update(FAKE_CREDENTIALS)
    command = [aws, "--endpoint-url", endpoint.url, *args.aws_args]
    return subprocess.run(command, env=env, check=False).returncode
