"""`hangar doctor`: is this machine ready for Hangar, and if not, which command fixes it?

Every check is a small function returning a `CheckResult`: ok / warn / fail, what it found, the fix.
`hangar doctor` runs them in parallel (the slow ones wait on a subprocess or the network), prints a
table and exits 1 when a check failed. Warnings are things Hangar works without (LocalStack not
started yet, no AWS credentials for real deploys).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from hangar.core import aws_cli, docker_client, ports
from hangar.core.errors import HangarError
from hangar.core.paths import NODE_BIN, PROJECT_UV, ROOT
from hangar.core.versions import LOCALSTACK_VERSION, NODE_VERSION
from hangar.deploy import remote_shell
from hangar.devloop import dev, services
from hangar.localstack import host as localstack_host
from hangar.localstack.endpoint import configured_endpoint, health, info

Status = Literal["ok", "warn", "fail"]
MIN_PYTHON = (3, 13)
MIN_NODE = 20
# The Node major every place runs (Node 20 reached end of life in April 2026).
SUPPORTED_NODE = int(NODE_VERSION.split(".")[0])
NODE_FIX = (
    f"make node (npm's Node {NODE_VERSION} for every make target), "
    f"or install Node {SUPPORTED_NODE} LTS"
)
DOCKER_FIX = (
    "hangar docker provision (as root; or: sudo apt-get install docker.io && sudo dockerd &)"
)
# Ports Hangar listens on, and how bad it is when a stranger holds one: `make dev` cannot start
# without 8000/5678 and LocalStack's (configured_endpoint's port), while
# PostgreSQL on 5432 is only the database host-mode dev may use.
HANGAR_PORTS: dict[int, tuple[str, Status]] = {
    8000: ("Django", "fail"),
    5432: ("PostgreSQL", "warn"),
    5678: ("debugpy", "fail"),
}
DISK_FAIL_BYTES = 2 * 1024**3  # images, the CDK assets and LocalStack's state need room
DISK_WARN_BYTES = 10 * 1024**3


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str | None = None


def _run(command: Sequence[str], timeout: float = 20.0) -> tuple[int, str]:
    """Exit code and output (stdout, else stderr) of `command`; 127 when it cannot be run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return 127, f"{command[0]}: not found on PATH"
    except subprocess.TimeoutExpired:
        return 124, f"`{' '.join(command)}` did not answer within {timeout:.0f}s"
    output = (done.stdout.strip() if done.returncode == 0 else "") or done.stderr.strip()
    return done.returncode, output or done.stdout.strip()


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else "no output"


def check_docker_engine() -> CheckResult:
    if shutil.which("docker") is None:
        return CheckResult("docker engine", "fail", "the docker CLI is not installed", DOCKER_FIX)
    engine = docker_client.probe_engine()
    if engine.version is None:
        where = os.environ.get("DOCKER_HOST", "the default socket")
        return CheckResult(
            "docker engine",
            "fail",
            f"no engine answers on {where}: {engine.detail} "
            "(host mode still runs `make dev` and LocalStack; container builds need it)",
            docker_client.devcontainer_engine_hint() or DOCKER_FIX,
        )
    return CheckResult("docker engine", "ok", f"engine {engine.version}")


def check_docker_plugin(plugin: Literal["compose", "buildx"]) -> CheckResult:
    command = (
        ["docker", "compose", "version", "--short"]
        if plugin == "compose"
        else [
            "docker",
            "buildx",
            "version",
        ]
    )
    code, output = _run(command)
    name = f"docker {plugin}"
    if code != 0:
        return CheckResult(
            name,
            "fail",
            f"`{' '.join(command)}` failed: {_last_line(output)}",
            "hangar docker provision (installs the compose v2 and buildx CLI plugins)",
        )
    version = output.split()[1] if plugin == "buildx" and len(output.split()) > 1 else output
    if plugin == "compose" and not version.lstrip("v").startswith("2"):
        return CheckResult(
            name, "fail", f"compose {version}: Hangar needs compose v2", "hangar docker provision"
        )
    return CheckResult(name, "ok", version)


def check_skopeo(skopeo: str = "skopeo") -> CheckResult:
    """`make deploy` pushes the image by digest with skopeo; nothing else needs it."""
    code, output = _run([skopeo, "--version"])
    if code == 0:
        return CheckResult("skopeo", "ok", output.removeprefix("skopeo version "))
    return CheckResult(
        "skopeo",
        "warn",
        f"{_last_line(output)}: `make deploy` cannot push an image",
        "apt-get install skopeo (macOS: brew install skopeo)",
    )


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> CheckResult:
    shown = ".".join(map(str, version))
    if version[:2] < MIN_PYTHON:
        return CheckResult(
            "python",
            "fail",
            f"{shown} runs Hangar; it needs 3.13",
            "make setup (uses uv's 3.13 env)",
        )
    return CheckResult("python", "ok", f"{shown} ({sys.prefix})")


def check_uv(candidates: Sequence[str | None] | None = None) -> CheckResult:
    """The Makefile's rule: uv from PATH when it runs, else the copy `make setup` installs."""
    if candidates is None:
        candidates = [shutil.which("uv"), str(PROJECT_UV)]
    problems = []
    for uv in filter(None, candidates):
        code, output = _run([uv, "--version"])
        if code == 0:
            return CheckResult("uv", "ok", f"{output.removeprefix('uv ')} ({uv})")
        problems.append(f"{uv}: {_last_line(output)}")
    return CheckResult("uv", "fail", "; ".join(problems) or "uv is not installed", "make setup")


def check_node() -> CheckResult:
    code, output = _run(["node", "--version"])
    if code != 0:
        return CheckResult(
            "node", "fail", _last_line(output), f"sudo apt-get install nodejs npm, then {NODE_FIX}"
        )
    found = re.match(r"v?(\d+)", output)
    major = int(found.group(1)) if found else 0
    if major < MIN_NODE:
        return CheckResult(
            "node",
            "fail",
            f"{output}: the CDK CLI needs Node >= {MIN_NODE}",
            NODE_FIX,
        )
    if major < SUPPORTED_NODE:
        return CheckResult(
            "node",
            "warn",
            f"{output}: past end of life; the CDK CLI warns on every call",
            NODE_FIX,
        )
    return CheckResult("node", "ok", output)


def pinned_cdk_version(package_json: Path = ROOT / "package.json") -> str | None:
    try:
        manifest = json.loads(package_json.read_text())
    except (OSError, ValueError):
        return None
    pin = manifest.get("devDependencies", {}).get("aws-cdk")
    return str(pin).lstrip("^~=") if pin else None


def check_cdk(node_bin: Path = NODE_BIN, package_json: Path = ROOT / "package.json") -> CheckResult:
    pinned = pinned_cdk_version(package_json)
    cdk = node_bin / "cdk"
    if not cdk.exists():
        return CheckResult("cdk cli", "fail", f"{cdk} is missing", "make setup (runs npm ci)")
    code, output = _run([str(cdk), "--version"], timeout=60)
    if code != 0:
        return CheckResult("cdk cli", "fail", f"cdk --version: {_last_line(output)}", "make setup")
    installed = output.split()[0]
    if pinned and installed != pinned:
        return CheckResult(
            "cdk cli",
            "fail",
            f"{installed} installed, package.json pins {pinned}",
            "make setup (npm ci installs the pinned version)",
        )
    missing_local = "" if (node_bin / "cdklocal").exists() else "; cdklocal is missing"
    status: Status = "fail" if missing_local else "ok"
    return CheckResult(
        "cdk cli", status, f"{installed}{missing_local}", "make setup" if missing_local else None
    )


def check_aws_cli(which: Callable[[str], str | None] = shutil.which) -> CheckResult:
    """`make aws` and `make remote-shell` run the user's AWS CLI v2 (it is in no lock)."""
    try:
        found = aws_cli.aws_cli_v2(which)
    except HangarError as error:
        detail = f"{error.message} (`make aws` and `make remote-shell` need v2)"
        return CheckResult("aws cli", "warn", detail, error.hint)
    return CheckResult("aws cli", "ok", f"{aws_cli.version_of(found)[0]} ({found})")


def check_session_manager_plugin(which: Callable[[str], str | None] = shutil.which) -> CheckResult:
    """ECS Exec (`make remote-shell`) needs AWS's Session Manager plugin beside the AWS CLI."""
    try:
        remote_shell.check_plugin(which)
    except HangarError as error:
        detail = (
            f"{remote_shell.SESSION_MANAGER_PLUGIN} is not on PATH (`make remote-shell` needs it)"
        )
        return CheckResult("session manager plugin", "warn", detail, error.hint)
    return CheckResult(
        "session manager plugin", "ok", str(which(remote_shell.SESSION_MANAGER_PLUGIN))
    )


def check_localstack(endpoint: str | None = None) -> CheckResult:
    url = endpoint or configured_endpoint().url
    if health(url) is None:
        return CheckResult(
            "localstack", "warn", f"nothing answers on {url} (not started)", "make localstack-up"
        )
    version = (info(url) or {}).get("version", "unknown")
    if not str(version).startswith(LOCALSTACK_VERSION):
        return CheckResult(
            "localstack",
            "warn",
            f"{url} runs LocalStack {version}; Hangar is tested with {LOCALSTACK_VERSION}",
            "make localstack-down && make localstack-up",
        )
    return CheckResult("localstack", "ok", f"{version} on {url}")


def hangar_pids() -> set[int]:
    """Processes Hangar started and recorded in its pid files under .hangar/."""
    pids = set(dev.running_children().values())
    local = localstack_host.read_running(
        localstack_host.RunDir.for_port(configured_endpoint().port)
    )
    if local is not None:
        pids.add(local.pid)
    return pids


def compose_published_ports() -> set[int]:
    """Host ports published by this checkout's compose project (empty without Docker)."""
    code, output = _run([*docker_client.compose_command(), "ps", "--format", "json"], timeout=15)
    if code != 0:
        return set()
    return {
        p["PublishedPort"]
        for row in services.parse_compose_ps(output)
        for p in row.get("Publishers") or []
        if p.get("PublishedPort")
    }


def check_dev_services() -> CheckResult:
    """Each service the running `make dev` session declared is up."""
    try:
        states = dev.service_states()
    except HangarError as error:
        return CheckResult("dev services", "warn", f"cannot tell which are up: {error}")
    if not states:
        return CheckResult("dev services", "ok", "no `make dev` session")
    down = [state for state in states if not state.up]
    if not down:
        return CheckResult("dev services", "ok", ", ".join(state.name for state in states) + " up")
    return CheckResult(
        "dev services",
        "fail",
        "; ".join(f"{state.name} down ({state.detail})" for state in down),
        f"`make logs SERVICE={down[0].name}` shows why; `make dev` starts it again",
    )


def _database_port(env: Mapping[str, str]) -> int | None:
    match = re.match(
        r"postgres(?:ql)?://[^@]*@(127\.0\.0\.1|localhost):(\d+)/", env.get("DATABASE_URL", "")
    )
    return int(match.group(2)) if match else None


def check_port(
    port: int,
    purpose: str,
    *,
    taken: Status = "fail",
    ours: Iterable[int] = (),
    compose_ports: Iterable[int] = (),
    env: Mapping[str, str] = os.environ,
) -> CheckResult:
    """Free, or held by Hangar (its pid files, compose project, LocalStack or database)."""
    name = f"port {port}"
    if ports.is_free(port):
        return CheckResult(name, "ok", f"free ({purpose})")
    held_by = ports.holder(port) or "an unknown process"
    pid = re.match(r"pid (\d+):", held_by)
    if pid and int(pid.group(1)) in set(ours):
        return CheckResult(name, "ok", f"held by Hangar's {purpose} ({held_by})")
    if port in set(compose_ports):
        return CheckResult(name, "ok", f"held by Hangar's compose {purpose} service")
    container = ports.publishing_container(port)
    if container and container.of_another_checkout:
        return CheckResult(  # another checkout's, even a LocalStack that answers: not reused
            name,
            taken,
            f"{purpose}'s port is taken by {container.describe()}",
            f"{container.how_to_stop()}, or move {purpose} to another port",
        )
    if port == configured_endpoint().port and check_localstack().status == "ok":
        return CheckResult(
            name, "ok", f"held by LocalStack {LOCALSTACK_VERSION} (reused by Hangar)"
        )
    if port == _database_port(env) or (purpose == "PostgreSQL" and "postgres" in held_by):
        return CheckResult(name, "ok", f"a PostgreSQL server for DATABASE_URL ({held_by})")
    return CheckResult(
        name,
        taken,
        f"{purpose}'s port is taken by {held_by}",
        f"stop that process (an earlier `make dev`: make down), or move {purpose} to another port",
    )


def check_ports() -> list[CheckResult]:
    ours = hangar_pids()
    published = compose_published_ports() if shutil.which("docker") else set()
    wanted = dict(HANGAR_PORTS)
    endpoint = configured_endpoint()
    if endpoint.is_local:
        wanted[endpoint.port] = ("LocalStack", "fail")
    return [
        check_port(port, purpose, taken=taken, ours=ours, compose_ports=published)
        for port, (purpose, taken) in sorted(wanted.items())
    ]


def check_aws_credentials(timeout: float = 3.0) -> CheckResult:
    """Who real deploys would run as: sts get-caller-identity on AWS itself, never LocalStack."""
    session = boto3.Session()
    region = session.region_name or "us-east-1"
    if session.get_credentials() is None:
        return CheckResult(
            "aws credentials",
            "warn",
            "none found (only real deploys need them; LocalStack uses fake ones)",
            "aws configure (or aws sso login); CI deploys with OIDC instead",
        )
    client = session.client(
        "sts",
        region_name=region,
        # An explicit endpoint: AWS_ENDPOINT_URL may point the shell at LocalStack.
        endpoint_url=f"https://sts.{region}.amazonaws.com",
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
    )
    try:
        identity = client.get_caller_identity()
    except NoCredentialsError:
        return CheckResult("aws credentials", "warn", "none found", "aws configure")
    except ClientError as error:
        return CheckResult(
            "aws credentials",
            "warn",
            f"AWS rejected them: {error.response['Error'].get('Message', error)}",
            "aws sso login (or renew the keys in aws configure)",
        )
    except BotoCoreError as error:
        return CheckResult(
            "aws credentials",
            "warn",
            f"cannot reach AWS STS to check them: {error}",
            "check the network/proxy; only real deploys need AWS",
        )
    return CheckResult(
        "aws credentials", "ok", f"{identity['Arn']} (account {identity['Account']})"
    )


def check_disk(
    path: Path = ROOT, fail_below: int = DISK_FAIL_BYTES, warn_below: int = DISK_WARN_BYTES
) -> CheckResult:
    free = shutil.disk_usage(path).free
    shown = f"{free / 1024**3:.1f} GiB free on {path}"
    if free < fail_below:
        return CheckResult("disk space", "fail", shown, "docker system prune, or free space")
    if free < warn_below:
        return CheckResult("disk space", "warn", shown, "docker system prune")
    return CheckResult("disk space", "ok", shown)


Check = Callable[[], CheckResult | list[CheckResult]]
CHECKS: list[Check] = [
    check_docker_engine,
    lambda: check_docker_plugin("compose"),
    lambda: check_docker_plugin("buildx"),
    check_skopeo,
    check_python,
    check_uv,
    check_node,
    check_cdk,
    check_localstack,
    check_dev_services,
    check_ports,
    check_aws_credentials,
    check_aws_cli,
    check_session_manager_plugin,
    check_disk,
]


def run_checks(checks: Sequence[Check] | None = None) -> list[CheckResult]:
    checks = CHECKS if checks is None else checks
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        outcomes = list(pool.map(lambda check: check(), checks))
    results: list[CheckResult] = []
    for outcome in outcomes:
        results += outcome if isinstance(outcome, list) else [outcome]
    return results


def render(results: Sequence[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = []
    for result in results:
        lines.append(f"{result.status.upper():<4}  {result.name:<{width}}  {result.detail}")
        if result.fix and result.status != "ok":
            lines.append(f"{'':<4}  {'':<{width}}  fix: {result.fix}")
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    plural = "" if warned == 1 else "s"
    lines.append(f"\n{len(results)} checks: {failed} failed, {warned} warning{plural}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    results = run_checks()
    print(render(results), flush=True)
    return 1 if any(r.status == "fail" for r in results) else 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="Check Docker, Python/uv, Node/CDK, LocalStack, the dev services, ports, AWS "
        "credentials and disk",
        description=__doc__.splitlines()[0],
    )
    parser.set_defaults(func=run)
