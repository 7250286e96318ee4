"""`hangar dev`, `down`, `logs`, `shell`, `manage`: the inner loop, with or without Docker.

Docker mode runs compose.yaml (web with debugpy and hot reload, worker, db, localstack). Host mode,
for machines without a Docker engine, runs the same dev server and worker as child processes next
to a host-mode LocalStack. Either way the app ends up on :8000, debugpy on :5678, and the session
is recorded under .hangar/dev/ so `hangar down` stops exactly what `hangar dev` started.
"""

import argparse
import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hangar.core import docker_client, ports
from hangar.core.console import info, step, warn
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import (
    DEV_ENV_FILE,
    DEV_ENV_FILE_VARIABLE,
    ROOT,
    STATE_DIR,
    env_file_values,
)
from hangar.devloop import children, dev_superuser, services
from hangar.devloop.debug_server import (
    ServerAddress,
    dev_server_for,
    server_command,
    wait_for_client,
)
from hangar.devloop.in_project import IN_PROJECT, MANAGE_PY
from hangar.localstack import docker as localstack_docker
from hangar.localstack.endpoint import configured_endpoint, is_healthy

if TYPE_CHECKING:
    from hangar.localstack.commands import LocalStackHandle

COMPOSE_FILE = ROOT / "compose.yaml"
# Inputs of the image: when one is newer than the built image, `hangar dev` rebuilds it.
IMAGE_INPUTS = ("Dockerfile", "pyproject.toml", "uv.lock", "compose.yaml")
MODES = ("host", "docker")


def dev_dir() -> Path:
    """Where the session (pid files, logs, mode) lives; tests point HANGAR_DEV_DIR elsewhere."""
    return Path(os.environ.get("HANGAR_DEV_DIR") or STATE_DIR / "dev")


# --- which mode ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeChoice:
    mode: str
    reason: str


def choose_mode(
    forced: str | None, compose_file_exists: bool, docker_usable: Callable[[], bool]
) -> ModeChoice:
    """Docker when an engine with compose answers and compose.yaml exists; HANGAR_DEV_MODE wins."""
    if forced:
        if forced not in MODES:
            raise HangarError(
                f"HANGAR_DEV_MODE={forced!r} is not a mode",
                f"set it to one of: {', '.join(MODES)} (or unset it to choose automatically)",
            )
        return ModeChoice(forced, f"forced by HANGAR_DEV_MODE={forced}")
    if not compose_file_exists:
        return ModeChoice("host", f"{COMPOSE_FILE.name} not found")
    if not docker_usable():
        return ModeChoice(
            "host",
            "no Docker engine with the compose plugin answers "
            "(`hangar docker provision` sets one up; HANGAR_DEV_MODE=docker insists)",
        )
    return ModeChoice("docker", "a Docker engine with compose answers and compose.yaml exists")


def current_mode(forced: str | None) -> ModeChoice:
    return choose_mode(forced, COMPOSE_FILE.exists(), localstack_docker.docker_usable)


# --- the session record -------------------------------------------------------------------------


def write_session(**fields: object) -> None:
    directory = dev_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "session.json").write_text(json.dumps(fields, indent=2) + "\n")


def read_session() -> dict[str, object]:
    path = dev_dir() / "session.json"
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise HangarError(f"{path} is not valid JSON ({error})", f"delete {path}") from None


def session_mode() -> str:
    """The mode of the running session, else the mode `hangar dev` would choose now."""
    recorded = read_session().get("mode")
    if isinstance(recorded, str) and recorded in MODES:
        return recorded
    return current_mode(os.environ.get("HANGAR_DEV_MODE")).mode


def listen_address(web_port: int, debug_port: int) -> ServerAddress:
    """Where the dev server and debugpy listen: loopback unless HANGAR_BIND_ADDRESS opts in.

    Compose publishes its ports on the same variable, so both modes expose the same thing.
    """
    host = ports.bind_address()
    if not ports.is_loopback(host):
        warn(
            f"{ports.BIND_ADDRESS_VARIABLE}={host}: the dev server and debugpy accept connections "
            "from other machines, and whoever reaches debugpy can run code as you; unset it to "
            f"listen on {ports.LOOPBACK} only"
        )
    return ServerAddress(host=host, port=web_port, debug_host=host, debug_port=debug_port)


def host_worker_command() -> list[str] | None:
    """The contract's worker command for a host process: its `python` is this environment's."""
    command = contract().worker_command
    if command is None:
        return None
    program, *arguments = command
    return [sys.executable if program in ("python", "python3") else program, *arguments]


def print_urls(address: ServerAddress) -> None:
    base = f"http://localhost:{address.port}"
    info(f"  app       {base}/")
    info(f"  admin     {base}/admin/")
    app = contract()
    info(f"  health    {base}{app.health_path}  {base}{app.readiness_path}")
    info(f"  debugger  localhost:{address.debug_port}  (VS Code: 'Attach to Hangar')")


# --- host mode ----------------------------------------------------------------------------------


def host_environment(base: Mapping[str, str], *, with_aws: bool) -> dict[str, str]:
    env = dict(base)
    # `make dev` is the development server whatever the shell exports.
    env["DJANGO_ENV"] = "development"
    env["DJANGO_DEBUG"] = "true"
    env["PYTHONUNBUFFERED"] = "1"
    # The contract's, as in compose (hangar.devloop.in_project), not manage.py's default.
    env.setdefault("DJANGO_SETTINGS_MODULE", contract().settings_module)
    # The project's own dev settings, as compose.yaml gives them to its services; the shell wins.
    dev_env_file = ROOT / (env.get(DEV_ENV_FILE_VARIABLE) or DEV_ENV_FILE.name)
    for name, value in env_file_values(dev_env_file).items():
        env.setdefault(name, value)
    if with_aws:
        # Always LocalStack's fake credentials: a developer's real keys never go to the local stack.
        env["AWS_ACCESS_KEY_ID"] = "test"
        env["AWS_SECRET_ACCESS_KEY"] = "test"  # noqa: S105 - LocalStack's fixed fake key
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
    return env


def running_children() -> dict[str, int]:
    """{name: pid} of the host-mode children the session records that still run."""
    return {name: record.pid for name, record in children.recorded_children(dev_dir()).items()}


def run_manage(argv: Sequence[str], env: Mapping[str, str], *, described_as: str = "") -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=contract().project_path, env=env, check=False
    )
    if result.returncode != 0:
        what = described_as or f"`manage.py {' '.join(argv)}`"
        raise HangarError(
            f"{what} failed (exit {result.returncode}); its output is above",
            "fix the error it names, then run `make dev` again",
        )


def describe_database(env: Mapping[str, str]) -> str:
    if env.get("DATABASE_URL"):
        return "DATABASE_URL from the environment"
    if env.get("DB_HOST"):
        return f"PostgreSQL at DB_HOST={env['DB_HOST']}"
    return "the settings' own default (DATABASE_URL is not set: set it to postgres://... to choose)"


def dev_host(args: argparse.Namespace) -> int:
    address = listen_address(args.web_port, args.debug_port)
    if running := running_children():
        raise HangarError(
            f"a host-mode dev session is already running ({_pids(running)})",
            "`make logs` shows its output; `make down` stops it",
        )
    ports.ensure_free(
        {address.port: "Django dev server", address.debug_port: "debugpy"},
        "pick other ports: HANGAR_WEB_PORT=8001 HANGAR_DEBUG_PORT=5679 make dev",
    )
    dev_dir().mkdir(parents=True, exist_ok=True)
    env = host_environment(os.environ, with_aws=not args.without_aws)
    server, why = dev_server_for()
    commands = {"web": server_command(address, server, wait=wait_for_client())}
    worker = host_worker_command()
    if worker and not args.without_aws:
        commands["worker"] = worker
    record = {
        "mode": "host",
        "web_port": address.port,
        "debug_port": address.debug_port,
        # What `make logs` and `make doctor` check is up.
        "services": [*commands, *([] if args.without_aws else ["localstack"])],
    }
    kept = " (LocalStack keeps running for the next `make dev`; `make down` stops it)"
    farewell = "" if args.without_aws else kept
    status = 0  # a Ctrl-C while following ends the session as a user ends it
    # From here on a Ctrl-C or SIGTERM, whenever it comes, stops every child started so far.
    session = children.Session(dev_dir(), contract().project_path, farewell=farewell)
    try:
        with session:
            info(f"reloader: {why}")
            _start_host_session(args, address, env, record, commands, session)
            if args.detach:
                session.keep()
                started = {child.name: child.process.pid for child in session.children}
                info(
                    f"running in the background ({_pids(started)}); "
                    "`make logs` follows the output, `make down` stops it"
                )
                return 0
            # LocalStack may go down too: the watch says so, as in docker mode.
            with services.Watch(service_states, initial=service_states()):
                status = session.follow()
    finally:
        if not args.detach:  # stopped on purpose: `make logs` and `make doctor` must not cry
            forget_services(child.name for child in session.children)
    return status


def _start_host_session(
    args: argparse.Namespace,
    address: ServerAddress,
    env: Mapping[str, str],
    record: Mapping[str, object],
    commands: Mapping[str, list[str]],
    session: children.Session,
) -> None:
    if args.without_aws:
        warn("--without-aws: no LocalStack, no deploy-local, no worker; S3 and SQS calls will fail")
        write_session(**record, localstack_started=False)
    else:
        started_before = read_session().get("localstack_started") is True
        handle = start_localstack("host")
        # Recorded before anything else can fail, so `hangar down` stops the LocalStack we started
        # (in this run, or in an earlier one whose Ctrl-C left it running for this one to reuse).
        write_session(**record, localstack_started=handle.started_by_us or started_before)
        deploy_stack(handle.endpoint)
    info(f"database: {describe_database(env)}")
    with step("Apply database migrations"):
        run_manage(["migrate", "--noinput"], env)
    run_manage(
        dev_superuser.manage_arguments(), env, described_as="creating the development superuser"
    )

    for name, argv in commands.items():
        session.start(name, argv, env, log=args.detach)
    info("Hangar is starting (host mode):")
    print_urls(address)
    if wait_for_client():
        info("DEBUGPY_WAIT=1: the server starts once a debugger attaches")


def forget_services(names: Iterable[str]) -> None:
    """The session runs `names` no more, on purpose: `make logs` and `make doctor` must not
    report them down (LocalStack, which outlives the children, stays declared)."""
    session = read_session()
    declared = session.get("services")
    if isinstance(declared, list):
        stopped = set(names)
        write_session(**{**session, "services": [name for name in declared if name not in stopped]})


def _pids(pids: Mapping[str, int]) -> str:
    return ", ".join(f"{name} pid {pid}" for name, pid in pids.items())


def start_localstack(mode: str) -> "LocalStackHandle":
    from hangar.localstack import commands as localstack

    with step(f"LocalStack ({mode} mode)"):
        return localstack.ensure_running(mode)


def deploy_stack(endpoint: str) -> None:
    from hangar.deploy import local_stage

    with step(f"Deploy the local stage into LocalStack at {endpoint}"):
        local_stage.deploy_local(endpoint)


# --- docker mode --------------------------------------------------------------------------------


def compose(*arguments: str) -> list[str]:
    return [*docker_client.compose_command(), *arguments]


def compose_run(
    *arguments: str, capture: bool = False, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    output = subprocess.PIPE if capture else None
    with compose_process(arguments, env, stdout=output, stderr=output) as process:
        stdout, stderr = process.communicate()
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if result.returncode != 0:
        details = f":\n{result.stderr.strip()[-2000:]}" if capture else " (output above)"
        raise HangarError(
            f"`docker compose {' '.join(arguments)}` failed (exit {result.returncode}){details}",
            "`make logs` shows the services' output; `make down` resets them",
        )
    return result


@contextlib.contextmanager
def compose_process(
    arguments: Sequence[str], env: Mapping[str, str] | None, **streams: Any
) -> Iterator[subprocess.Popen[str]]:
    """`docker compose arguments` in a process group of its own, killed whole when the block is
    interrupted. `docker compose` is the docker CLI running the compose plugin as its child:
    killing the CLI alone (what `subprocess.run` does at a Ctrl-C) left the plugin running on,
    creating and starting containers while the interrupted start-up's `compose down` ran."""
    process = subprocess.Popen(
        compose(*arguments), env=env, text=True, start_new_session=True, **streams
    )
    with process:
        try:
            yield process
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise


def running_services() -> set[str]:
    result = compose_run("ps", "--status", "running", "--services", capture=True)
    return set(result.stdout.split())


def compose_config() -> dict[str, Any]:
    return dict(json.loads(compose_run("config", "--format", "json", capture=True).stdout))


def images_to_build(config: Mapping[str, Any]) -> list[str]:
    """One service per built image that is missing or older than one of the image's inputs."""
    newest_input = max(
        (ROOT / name).stat().st_mtime for name in IMAGE_INPUTS if (ROOT / name).exists()
    )
    checked: set[str] = set()
    stale: list[str] = []
    for name, service in config.get("services", {}).items():
        image = service.get("image") or f"{config.get('name', ROOT.name)}-{name}"
        # web and worker share one image: inspect it (a docker call) and build it once.
        if "build" not in service or image in checked:
            continue
        checked.add(image)
        created = image_created(image)
        if created is None or created < newest_input:
            stale.append(name)
    return stale


def image_created(image: str) -> float | None:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Created}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    # "2026-11-26T21:30:01.123456789Z": fromisoformat takes at most microseconds.
    whole, _, fraction = result.stdout.strip().rstrip("Z").partition(".")
    parsed = datetime.fromisoformat(f"{whole}.{(fraction or '0')[:6]}").replace(tzinfo=UTC)
    return parsed.timestamp()


# The compose services that read the local stack's outputs (.hangar/local.env) when they start.
NEEDS_THE_STACK = ("web", "worker")
WEB_START_TIMEOUT = 120.0
WEB_STATE_CHECK_SECONDS = 3.0


class BackgroundFailed(HangarError):
    """A compose command `in_background` ran failed (not the body it ran beside)."""


@contextlib.contextmanager
def in_background(
    arguments: Sequence[str],
    env: Mapping[str, str],
    *,
    show_output: bool = False,
    described_as: str = "",
) -> Iterator[None]:
    """`docker compose arguments` while the body runs; then wait for it: its failure fails
    `hangar dev`, its output is shown when asked (else only when it failed)."""
    command = described_as or f"`docker compose {' '.join(arguments)}`"
    info(f"in the background: {command}")
    with (
        tempfile.TemporaryFile("w+") as log,
        compose_process(arguments, env, stdout=log, stderr=subprocess.STDOUT) as process,
    ):
        yield
        with step(f"Wait for {command}"):
            returncode = process.wait()
        log.seek(0)
        output = log.read().strip()
    if returncode != 0:
        raise BackgroundFailed(
            f"{command} failed (exit {returncode}):\n{output[-2000:]}",
            "`make logs` shows the services' output; `make down` resets them",
        )
    if show_output and output:
        info(output)


def wait_until_serving(address: ServerAddress, timeout: float = WEB_START_TIMEOUT) -> None:
    """Until web's /healthz answers through its published port, polled often: compose's
    `up --wait` would wait for the container's healthcheck, which runs every 5 s."""
    host = ports.LOOPBACK if address.host == "0.0.0.0" else address.host  # noqa: S104 - a check
    url = f"http://{host}:{address.port}/healthz"
    deadline = time.monotonic() + timeout
    next_state_check = time.monotonic() + WEB_STATE_CHECK_SECONDS
    hint = "`make logs SERVICE=web` shows why; fix it and run `make dev` again"
    while not answers_ok(url):
        if time.monotonic() > deadline:
            raise HangarError(f"the web container did not answer {url} within {timeout:.0f}s", hint)
        if time.monotonic() > next_state_check:
            if "web" not in running_services():
                raise HangarError("the web container stopped during start-up", hint)
            next_state_check = time.monotonic() + WEB_STATE_CHECK_SECONDS
        time.sleep(0.2)


def answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a loopback URL
            return int(response.status) == 200
    except (OSError, http.client.HTTPException):
        return False


def web_runs_debugpy(config: Mapping[str, Any]) -> bool:
    command = config.get("services", {}).get("web", {}).get("command") or []
    return "debugpy" in " ".join(command if isinstance(command, list) else [command])


def _start_containers(
    address: ServerAddress, env: Mapping[str, str], config: Mapping[str, Any]
) -> None:
    if not web_runs_debugpy(config):
        warn("compose.yaml's web command does not start debugpy: the debugger port will not answer")
    if stale := images_to_build(config):
        with step(f"Build the images ({', '.join(stale)})"):
            compose_run("build", *stale, env=env)
    else:
        info("images: up to date (rebuilt when Dockerfile, pyproject.toml or uv.lock change)")
    endpoint = start_localstack("docker").endpoint
    declared = config.get("services", {})
    # The database and its migrations need nothing from the stack: they start during the deploy.
    independent = [name for name in declared if name not in NEEDS_THE_STACK]
    try:
        with in_background(["up", "--detach", "--wait", *independent], env):
            deploy_stack(endpoint)
    except BackgroundFailed as error:
        if "migrate" not in independent or not migrate_succeeded(env):
            raise migrate_failure(env) or error from None
        # compose's `up --wait` fails on a container that has exited, whatever its exit code
        # (compose 2.26): a migrate with nothing to apply can be done before compose looks. The
        # others are waited for once more.
        if others := [name for name in independent if name != "migrate"]:
            compose_run("up", "--detach", "--wait", *others, env=env)
    except HangarError as error:
        raise migrate_failure(env) or error from None
    if "migrate" in declared:
        wait_for_migrate(env)
    # After the deploy, so web and worker read the stack's outputs at their first start; the
    # worker only where the contract has one (compose's `worker` profile leaves it out otherwise).
    stack_services = [name for name in NEEDS_THE_STACK if name in declared]
    with step(f"Start {' and '.join(stack_services)}"):
        compose_run("up", "--detach", "--no-deps", *stack_services, env=env)
    if "migrate" not in declared:
        with step("Apply database migrations"):
            compose_run("exec", "-T", "web", *MANAGE_PY, "migrate", "--noinput", env=env)
    superuser = ["exec", "-T", "web", *MANAGE_PY, *dev_superuser.manage_arguments()]
    creating = in_background(
        superuser, env, show_output=True, described_as="the development superuser (in web)"
    )
    with creating, step("Wait until web's /healthz answers"):
        wait_until_serving(address)


MIGRATE_LOG_LINES = 15
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # compose's logs clear each line even in a pipe
MIGRATE_POLL_SECONDS = 0.5
MIGRATE_NOTICE_SECONDS = 30  # how often a long migrate says it still runs
FINISHED = ("exited", "dead")  # container states that no longer change by themselves


def wait_for_migrate(env: Mapping[str, str]) -> None:
    """Until compose's `migrate` has finished, and why when it failed. `up --wait` returns once
    migrate runs, not once it is done: web then started beside a migrate that failed a moment
    later (`--no-deps` skips web's wait for it), and `hangar dev` said only that web never
    answered its health check."""
    began = time.monotonic()
    next_notice = began + MIGRATE_NOTICE_SECONDS
    with step("Wait for compose's `migrate` (the database migrations)"):
        while any(row.get("State") not in FINISHED for row in migrate_rows(env)):
            if time.monotonic() >= next_notice:
                # No deadline: a data migration may rightly take long, and only the user knows.
                info(
                    f"migrate still running after {time.monotonic() - began:.0f}s: "
                    "`make logs SERVICE=migrate` shows what it does (Ctrl-C stops the start)"
                )
                next_notice += MIGRATE_NOTICE_SECONDS
            time.sleep(MIGRATE_POLL_SECONDS)
    if failure := migrate_failure(env):
        raise failure


def migrate_rows(env: Mapping[str, str]) -> list[dict[str, Any]]:
    ps = compose_run("ps", "--all", "--format", "json", "migrate", capture=True, env=env)
    return services.parse_compose_ps(ps.stdout)


def migrate_succeeded(env: Mapping[str, str]) -> bool:
    """Whether compose's `migrate` has run and exited 0."""
    try:
        rows = migrate_rows(env)
    except HangarError:
        return False  # the engine's own failure: the error of `up` says more
    finished = [row.get("State") == "exited" and not row.get("ExitCode") for row in rows]
    return bool(finished) and all(finished)


# PostgreSQL's answers when the volume's cluster was made by a first start cut short (the official
# image's entrypoint never initialises it again): the database was not created yet, or the entry
# letting other containers in was not written yet.
HALF_INITIALISED = re.compile(r'database "[^"]+" does not exist|no pg_hba\.conf entry for host')


def migrate_failure(env: Mapping[str, str]) -> HangarError | None:
    """What to tell when compose's `migrate` service exited with an error, with its last lines:
    `up --wait` names only its exit status, and the containers, its log with them, may be gone
    by the time anyone asks for it. None when migrate did not fail."""
    tail = ["logs", "--no-color", "--no-log-prefix", "--tail", str(MIGRATE_LOG_LINES), "migrate"]
    try:
        rows = migrate_rows(env)
        if not any(row.get("State") in FINISHED and row.get("ExitCode") for row in rows):
            return None
        logs = compose_run(*tail, capture=True, env=env)
    except HangarError:
        return None  # the engine's own failure: the error of `up` says more
    lines = ANSI_ESCAPE.sub("", logs.stdout + logs.stderr).strip() or "(no output)"
    hint = (
        "the database volume was left half made by an interrupted first start: "
        "`hangar down --volumes` deletes it (and its data), then `make dev` makes it again"
        if HALF_INITIALISED.search(lines)
        else "fix what migrate reports, then `make dev` again (`make logs SERVICE=migrate`)"
    )
    indented = textwrap.indent(lines, "  | ")
    return HangarError(f"compose's `migrate` service failed; its last lines:\n{indented}", hint)


# The one service whose stop is worth waiting for: PostgreSQL writes its data volume, and its fast
# shutdown (its image stops it with SIGINT) takes about a second. The others hold nothing a kill
# loses: web and worker are the dev server and a worker that just started, migrate's migrations
# are transactions, LocalStack's state lives in memory.
KEEPS_DATA = "db"
DATABASE_STOP_TIMEOUT = 4  # seconds; past it the kill is still safe: PostgreSQL replays its WAL


def _take_down_interrupted_start(
    env: Mapping[str, str], declared: Iterable[str], *, first_start: bool
) -> None:
    """Ctrl-C during docker mode's start-up: what it began is taken down again, so no half-started
    container or its network is left, within the 10 s a user is promised.

    `compose down` alone stops the services one dependency level after another (web and worker,
    then migrate and LocalStack, then the database), each with its grace period: 32.5 s under load
    (docs/benchmarks.md). So the services that hold nothing are killed at once, side by side, and
    the database alone gets its graceful stop. On a first start (no database volume yet) the
    volumes go too, the database's with nothing in it yet: the next start would otherwise find a
    database interrupted in its first initialisation (its entrypoint ignores a stop signal) half
    made, and there is no data to keep. A further signal cannot cut the teardown short.
    """
    info("\ninterrupted during the start-up: taking down the containers it started")
    held = {signum: signal.signal(signum, signal.SIG_IGN) for signum in children.STOP_SIGNALS}
    try:
        graceful = set() if first_start else {KEEPS_DATA}
        # compose refuses the kill when a service's container is created but not running (or has
        # just exited): nothing to kill there, and the down below removes it either way. Without
        # this the teardown stopped at that refusal and left db, LocalStack and the network.
        with contextlib.suppress(HangarError):
            compose_run("kill", *sorted(set(declared) - graceful), capture=True, env=env)
        volumes = ["--volumes"] if first_start else []
        compose_run("down", "--timeout", str(DATABASE_STOP_TIMEOUT), *volumes, env=env)
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)


COMPOSE_VOLUME_NAME = '{{.Label "com.docker.compose.volume"}}'  # as compose.yaml names it


def has_database_volume(env: Mapping[str, str], config: Mapping[str, Any]) -> bool:
    """Whether the database's volume exists already (compose itself lists no volume). Without it
    the start-up initialises a new one: a first start, whatever else the project has (LocalStack's
    volume outlives `make down`, and once took a new database for one with data to keep)."""
    declared = config.get("services", {}).get(KEEPS_DATA, {}).get("volumes") or []
    names = {volume["source"] for volume in declared if volume.get("type") == "volume"}
    project = f"label=com.docker.compose.project={docker_client.compose_project(environ=env)}"
    result = subprocess.run(
        ["docker", "volume", "ls", "--filter", project, "--format", COMPOSE_VOLUME_NAME],
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(names & set(result.stdout.split()))


def dev_docker(args: argparse.Namespace) -> int:
    address = listen_address(args.web_port, args.debug_port)
    # compose.yaml publishes the web ports from these variables (on HANGAR_BIND_ADDRESS), and
    # LocalStack's on the port the endpoint names: else `up` would recreate it, empty, on 4566.
    env = {
        **localstack_docker.compose_env(configured_endpoint()),
        "WEB_PORT": str(address.port),
        "DEBUGPY_PORT": str(address.debug_port),
    }
    running = running_services()
    if "web" not in running:
        ports.ensure_free(
            {address.port: "web: Django dev server", address.debug_port: "web: debugpy"},
            "pick other ports: HANGAR_WEB_PORT=8001 HANGAR_DEBUG_PORT=5679 make dev",
        )
    write_session(mode="docker", web_port=address.port, debug_port=address.debug_port)
    config = compose_config()
    first_start = not has_database_volume(env, config)
    try:
        _start_containers(address, env, config)
    except KeyboardInterrupt:
        if not running:  # else the containers ran before this start-up, and keep running
            declared = config.get("services", {})
            _take_down_interrupted_start(env, declared, first_start=first_start)
        raise
    states = service_states()
    services.report_down(states)
    info("Hangar is running (docker mode):")
    print_urls(address)
    if args.detach:
        info("`make logs` follows the output, `make down` stops the containers")
        return 0
    info("following web and worker logs; Ctrl-C stops following (the containers keep running)")
    followed = ["web", "worker"] if contract().worker_command else ["web"]
    try:
        with services.Watch(service_states, initial=states):
            children.run_in_foreground(compose("logs", "--follow", "--tail", "50", *followed))
    except KeyboardInterrupt:
        info("\ncontainers keep running; `make down` stops them")
    return 0


def service_states() -> list[services.ServiceState]:
    """Each service the running session declared, up or down; none without a session."""
    session = read_session()
    if session.get("mode") == "docker":
        rows = services.parse_compose_ps(
            compose_run("ps", "--all", "--format", "json", capture=True).stdout
        )
        return services.compose_states(compose_config(), rows)
    if session.get("mode") == "host":
        declared = session.get("services")
        return services.host_states(
            declared if isinstance(declared, list) else [],
            running_children(),
            lambda: is_healthy(configured_endpoint().url),
        )
    return []


# --- commands -----------------------------------------------------------------------------------


def cmd_dev(args: argparse.Namespace) -> int:
    forced = os.environ.get("HANGAR_DEV_MODE")
    choice = current_mode(forced)
    info(f"mode: {choice.mode} ({choice.reason})")
    if choice.mode == "docker":
        if args.without_aws:
            raise HangarError(
                "--without-aws applies to host mode only (compose always runs LocalStack)",
                "run with HANGAR_DEV_MODE=host, or drop --without-aws",
            )
        # Only a forced choice skipped these checks; an automatic one has just passed them.
        if forced and not COMPOSE_FILE.exists():
            raise HangarError(f"{COMPOSE_FILE} does not exist", "use HANGAR_DEV_MODE=host")
        if forced and not localstack_docker.docker_usable():
            raise HangarError(
                "docker mode needs a Docker engine with the compose plugin, and none answers",
                "start the engine (`hangar docker provision` sets one up), "
                "or use HANGAR_DEV_MODE=host",
            )
        return dev_docker(args)
    return dev_host(args)


def cmd_down(args: argparse.Namespace) -> int:
    session = read_session()
    # The host children and the LocalStack `make dev` started stop side by side: the stop takes
    # as long as the slowest of them, not their sum.
    with concurrent.futures.ThreadPoolExecutor() as pool:
        stops = [pool.submit(_stop_host_children)]
        if session.get("localstack_started"):
            stops.append(pool.submit(_stop_dev_localstack))
        stopped = any([stop.result() for stop in stops])
    # A host session leaves compose alone: its services may be someone else's (a test, say).
    if (
        session.get("mode") != "host"
        and COMPOSE_FILE.exists()
        and localstack_docker.docker_usable()
        and running_services()
    ):
        with step("Stop the compose services"):
            compose_run("down", *(["--volumes"] if args.volumes else []))
        stopped = True
    (dev_dir() / "session.json").unlink(missing_ok=True)
    if not stopped:
        info("nothing from `make dev` was running")
    return 0


def _stop_host_children() -> bool:
    running = running_children()
    if not running:
        children.stop_recorded(dev_dir())  # forgets stale pid files
        return False
    with step(f"Stop {_pids(running)}"):
        children.stop_recorded(dev_dir())
    return True


def _stop_dev_localstack() -> bool:
    from hangar.localstack import commands as localstack

    with step("Stop the LocalStack `make dev` started"):
        return localstack.stop()


def cmd_logs(args: argparse.Namespace) -> int:
    """The services' output, and which declared service is down (after the logs, where it is
    seen; while following, whenever one goes down or comes back)."""
    show = _docker_logs if session_mode() == "docker" else _host_logs
    states = _states_if_known()
    if not args.follow:
        status = show(args)
        services.report_down(states)
        return status
    services.report_down(states)
    with services.Watch(service_states, initial=states):
        return show(args)


def _states_if_known() -> list[services.ServiceState]:
    try:
        return service_states()
    except HangarError as error:
        warn(f"cannot tell which services are up: {error}")
        return []


def _docker_logs(args: argparse.Namespace) -> int:
    selected = [args.service] if args.service else []
    follow = ["--follow"] if args.follow else []
    return subprocess.run(
        compose("logs", *follow, "--tail", "200", *selected), check=False
    ).returncode


def _host_logs(args: argparse.Namespace) -> int:
    logs = sorted(dev_dir().glob(f"{args.service or '*'}.log"))
    if not logs:
        raise HangarError(f"no host-mode logs under {dev_dir()}", "start the app with `make dev`")
    try:
        for line in tail(logs, follow=args.follow):
            sys.stdout.write(line)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    return 0


def tail(logs: Sequence[Path], *, follow: bool, lines: int = 200) -> Iterator[str]:
    """The last `lines` of each log, prefixed with its name; then new lines while `follow`."""
    width = max(len(log.stem) for log in logs)
    handles = []
    for log in logs:
        handle = log.open(errors="replace")
        for line in handle.readlines()[-lines:]:
            yield f"{log.stem:<{width}} | {line}"
        handles.append((log.stem, handle))
    while follow:
        quiet = True
        for name, handle in handles:
            for line in iter(handle.readline, ""):
                quiet = False
                yield f"{name:<{width}} | {line}"
        if quiet:
            time.sleep(0.2)


def cmd_manage(args: argparse.Namespace) -> int:
    return manage(args, args.arguments)


def cmd_shell(args: argparse.Namespace) -> int:
    return manage(args, ["shell"])


# Always handed to the web container: what `createsuperuser --noinput` reads.
PASSED_PREFIXES = ("DJANGO_SUPERUSER_",)
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def passed_variables(named: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The variables of this shell that a command in the web container gets: Django's
    DJANGO_SUPERUSER_* and those `named` (PASS_ENV), never the rest of the host's environment."""
    if invalid := [name for name in named if not VARIABLE_NAME.fullmatch(name)]:
        raise HangarError(
            f"PASS_ENV holds {', '.join(map(repr, invalid))}, not a variable name",
            'name variables, e.g. PASS_ENV="STRIPE_API_KEY OTHER"',
        )
    if unset := [name for name in named if name not in environ]:
        raise HangarError(
            f"PASS_ENV names {', '.join(unset)}, not set in this shell",
            f"set it for the command (e.g. `{unset[0]}=value make manage …`) or leave it out",
        )
    automatic = [name for name in environ if name.startswith(PASSED_PREFIXES)]
    return sorted({*automatic, *named})


def manage(args: argparse.Namespace, arguments: Sequence[str]) -> int:
    """manage.py in the web container (docker mode) or against the host-mode environment."""
    passed = passed_variables(args.pass_env, os.environ)
    return run_in_dev(["python", "manage.py", *arguments], passed)


def cmd_schedule(args: argparse.Namespace) -> int:
    """A `[tool.hangar.schedules.<name>]` command, once, where `make manage` runs manage.py (the
    deployed stages run it on its cron; nothing runs it on a timer locally)."""
    declared = {schedule.name: schedule for schedule in contract().schedules}
    if args.name not in declared:
        raise HangarError(
            f"no schedule {args.name!r} in [tool.hangar.schedules] "
            f"(declared: {', '.join(declared) or 'none'})",
            "make schedule NAME=<a declared name>; docs/adopting.md shows how to declare one",
        )
    command = list(declared[args.name].command)
    info(f"Running schedule {args.name} once: {' '.join(command)}")
    return run_in_dev(command, passed=[])


def run_in_dev(command: Sequence[str], passed: Sequence[str]) -> int:
    """`command` in the web container (docker mode), with the `passed` variables of this shell, or
    in the project directory with the host-mode environment, where `python` is this checkout's
    interpreter."""
    if session_mode() == "docker":
        if "web" not in running_services():
            raise HangarError("the web container is not running", "start it with `make dev`")
        tty = [] if sys.stdin.isatty() else ["-T"]
        # Names only: compose reads their values from its own environment, so none is in argv.
        environment = [f"--env={name}" for name in passed]
        return subprocess.run(
            compose("exec", *tty, *environment, "web", *IN_PROJECT, *command), check=False
        ).returncode
    env = host_environment(os.environ, with_aws=True)
    host_command = [sys.executable, *command[1:]] if command[0] == "python" else list(command)
    return subprocess.run(
        host_command, cwd=contract().project_path, env=env, check=False
    ).returncode


def _port(variable: str, default: int) -> int:
    value = os.environ.get(variable, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise HangarError(f"{variable}={value!r} is not a TCP port", f"set {variable} to 1-65535")
    return int(value)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    dev = subparsers.add_parser(
        "dev",
        help="run the app with hot reload and debugpy (docker mode, or host mode without Docker)",
        description="Docker mode when an engine answers and compose.yaml exists, else host mode; "
        "HANGAR_DEV_MODE=host|docker forces one. DEBUGPY_WAIT=1 waits for a debugger.",
    )
    dev.add_argument(
        "--detach",
        action="store_true",
        default=os.environ.get("DETACH", "") not in ("", "0"),
        help="start in the background and return (DETACH=1)",
    )
    dev.add_argument(
        "--without-aws",
        action="store_true",
        help="host mode: skip LocalStack, deploy-local and the worker (quick UI/debugger work)",
    )
    dev.add_argument("--web-port", type=int, default=None, help="host mode (HANGAR_WEB_PORT)")
    dev.add_argument("--debug-port", type=int, default=None, help="host mode (HANGAR_DEBUG_PORT)")
    dev.set_defaults(func=_with_port_defaults(cmd_dev))

    down = subparsers.add_parser("down", help="stop everything `hangar dev` started")
    down.add_argument("--volumes", action="store_true", help="also delete the compose volumes")
    down.set_defaults(func=cmd_down)

    logs = subparsers.add_parser("logs", help="show (and --follow) the dev services' output")
    logs.add_argument("service", nargs="?", help="web, worker (docker mode also: db, localstack)")
    logs.add_argument("--follow", "-f", action="store_true")
    logs.set_defaults(func=cmd_logs)

    shell = subparsers.add_parser("shell", help="Django shell in the dev environment")
    manage_parser = subparsers.add_parser("manage", help="run manage.py in the dev environment")
    for parser in (shell, manage_parser):
        parser.add_argument(
            "--pass-env",
            action="append",
            default=[],
            metavar="NAME",
            help="docker mode: hand this shell's NAME to the web container (DJANGO_SUPERUSER_* "
            "always go); host mode runs in this shell's environment anyway",
        )
    shell.set_defaults(func=cmd_shell)
    manage_parser.add_argument("arguments", nargs=argparse.REMAINDER, help="e.g. createsuperuser")
    manage_parser.set_defaults(func=cmd_manage)

    schedule = subparsers.add_parser(
        "schedule", help="run a declared schedule's command once in the dev environment"
    )
    schedule.add_argument("name", nargs="?", help="as in [tool.hangar.schedules.<name>]")
    schedule.set_defaults(func=cmd_schedule)


def _with_port_defaults(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if args.web_port is None:
            args.web_port = _port("HANGAR_WEB_PORT", 8000)
        if args.debug_port is None:
            args.debug_port = _port("HANGAR_DEBUG_PORT", 5678)
        return command(args)

    return run
