"""Host mode: the pinned LocalStack from PyPI in its own virtualenv, run as a background process.

For machines without Docker. Services that LocalStack runs in containers of their own (Lambda,
for one) do not work in this mode; everything Hangar's stack uses (S3, SQS, Secrets Manager, SSM,
IAM, CloudFormation) does.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from hangar.core import console, processes
from hangar.core.errors import HangarError
from hangar.core.locks import exclusive
from hangar.core.paths import LOCALSTACK_LOCK, PROJECT_UV, ROOT, STATE_DIR
from hangar.core.versions import LOCALSTACK_VERSION
from hangar.localstack.endpoint import RUNTIME_SETTINGS, Endpoint, is_healthy

HOME = STATE_DIR / "localstack"
VENV = HOME / "venv"
STAMP_NAME = "hangar-lock.sha256"
PYTHON_REQUEST = ">=3.12,<3.14"  # what requirements.txt is resolved for
STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 25


@dataclass(frozen=True)
class RunDir:
    """Per-port state: an instance for tests on a spare port never touches the shared one's."""

    path: Path

    @classmethod
    def for_port(cls, port: int) -> "RunDir":
        return cls(HOME / f"port-{port}")

    @property
    def pid_file(self) -> Path:
        return self.path / "localstack.pid"

    @property
    def log_file(self) -> Path:
        return self.path / "localstack.log"

    @property
    def filesystem(self) -> Path:
        return self.path / "filesystem"


@dataclass(frozen=True)
class HostProcess:
    pid: int
    started_at: float
    endpoint: str


# --- the virtualenv -------------------------------------------------------------------------------


# Precompiled bytecode: without it every start imports LocalStack from source wherever .pyc files
# cannot be written (PYTHONDONTWRITEBYTECODE=1, read-only venvs), seconds on 2 cores.
SYNC_OPTIONS = ("--require-hashes", "--compile-bytecode")


def lock_digest(lock_file: Path = LOCALSTACK_LOCK) -> str:
    """Identifies what a sync installs: the lock and how it is installed."""
    return hashlib.sha256(lock_file.read_bytes() + " ".join(SYNC_OPTIONS).encode()).hexdigest()


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def venv_is_current(venv: Path, digest: str) -> bool:
    """The venv was synced from exactly this lock (the stamp is written only after a sync)."""
    stamp = venv / STAMP_NAME
    return venv_python(venv).exists() and stamp.exists() and stamp.read_text().strip() == digest


def find_uv() -> str:
    candidates = [shutil.which("uv"), str(PROJECT_UV)]
    for candidate in filter(None, candidates):
        # A pyenv shim can be on PATH yet fail for the active Python: only a uv that runs counts.
        if processes.succeeds([candidate, "--version"]):
            return candidate
    raise HangarError(
        "uv is needed to install LocalStack's host-mode environment, and none runs here",
        "run `make setup` (it installs uv into .hangar/tools), or install uv on PATH",
    )


def find_python(uv: str) -> str:
    """A Python the lock supports: HANGAR_LOCALSTACK_PYTHON, else uv's choice, else PATH."""
    override = os.environ.get("HANGAR_LOCALSTACK_PYTHON", "").strip()
    if override:
        if not _python_fits(override):
            raise HangarError(
                f"HANGAR_LOCALSTACK_PYTHON={override} is not a working Python 3.12 or 3.13",
                "point it at a python3.12/python3.13 executable, or unset it",
            )
        return override
    found = subprocess.run(
        [uv, "python", "find", "--system", PYTHON_REQUEST],
        cwd=ROOT,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode == 0 and found.stdout.strip():
        return found.stdout.strip()
    # uv gives up at the first broken pyenv shim it meets; the versioned names may still work.
    for name in ("python3.13", "python3.12"):
        path = shutil.which(name)
        if path and _python_fits(path):
            return path
    raise HangarError(
        "LocalStack host mode needs Python 3.12 or 3.13, and none was found",
        "install one (e.g. `pyenv install 3.13`) and set HANGAR_LOCALSTACK_PYTHON to its path, "
        "or run Docker",
    )


def _python_fits(python: str) -> bool:
    check = "import sys; sys.exit(0 if (3, 12) <= sys.version_info[:2] < (3, 14) else 1)"
    return processes.succeeds([python, "-c", check])


def ensure_venv(venv: Path = VENV, lock_file: Path = LOCALSTACK_LOCK) -> Path:
    """Create or update the venv from the lock; does nothing when the stamp matches the lock."""
    digest = lock_digest(lock_file)
    if venv_is_current(venv, digest):
        return venv_python(venv)
    with exclusive(HOME / "install.lock"):
        if venv_is_current(venv, digest):  # another hangar process installed it while we waited
            return venv_python(venv)
        uv = find_uv()
        with console.step(f"Installing LocalStack's host-mode environment into {_shown(venv)}"):
            if not processes.succeeds([str(venv_python(venv)), "-c", "pass"]):
                python = find_python(uv)
                _run_checked([uv, "venv", "--quiet", "--clear", "--python", python, str(venv)])
            (venv / STAMP_NAME).unlink(missing_ok=True)
            _run_checked(
                [
                    uv,
                    "pip",
                    "sync",
                    *SYNC_OPTIONS,
                    "--python",
                    str(venv_python(venv)),
                    str(lock_file),
                ]
            )
            (venv / STAMP_NAME).write_text(digest + "\n")
    return venv_python(venv)


def runtime_python() -> Path:
    """The runtime's Python: HANGAR_LOCALSTACK_VENV's when set, else the checkout's venv's.

    HANGAR_LOCALSTACK_VENV names a venv installed from the lock by someone else, used as it is: the
    devcontainer image bakes one in, since the bind-mounted checkout's venv belongs to the host.
    """
    provided = os.environ.get("HANGAR_LOCALSTACK_VENV", "").strip()
    if not provided:
        return ensure_venv()
    python = venv_python(Path(provided))
    if not processes.succeeds([str(python), "-c", "import localstack.runtime.main"]):
        raise HangarError(
            f"HANGAR_LOCALSTACK_VENV={provided} holds no LocalStack runtime "
            f"({python} cannot import localstack.runtime.main)",
            "rebuild the dev container, or unset HANGAR_LOCALSTACK_VENV "
            "(Hangar then installs .hangar/localstack/venv)",
        )
    return python


def _run_checked(command: list[str]) -> None:
    result = subprocess.run(
        command, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"}, check=False
    )
    if result.returncode != 0:
        raise HangarError(
            f"`{' '.join(command)}` failed (exit {result.returncode})",
            "read uv's message above; PyPI must be reachable for the first install",
        )


# --- the process ------------------------------------------------------------------------------


def runtime_env(endpoint: Endpoint, filesystem: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "LOCALSTACK_AUTH_TOKEN"}
    env.update(
        GATEWAY_LISTEN=f"{endpoint.bind_host}:{endpoint.port}",
        # LocalStack guesses "inside Docker" from marker files (true in a devcontainer), then
        # ignores FILESYSTEM_ROOT and writes to /var/lib/localstack, shared by every instance.
        OVERRIDE_IN_DOCKER="0",
        FILESYSTEM_ROOT=str(filesystem),
        DNS_ADDRESS="0",  # its DNS server wants port 53 and would collide between instances
        SKIP_SSL_CERT_DOWNLOAD="1",  # fetched from GitHub; the gateway serves plain HTTP anyway
        DISABLE_EVENTS="1",  # no analytics calls home
        **RUNTIME_SETTINGS,
    )
    return env


def runtime_command(python: Path) -> list[str]:
    # localstack.runtime.main is what the container's supervisor runs; it needs no Docker.
    return [str(python), "-m", "localstack.runtime.main"]


def start(endpoint: Endpoint, timeout: float) -> HostProcess:
    python = runtime_python()
    run_dir = RunDir.for_port(endpoint.port)
    with exclusive(run_dir.path.with_suffix(".lock")):
        running = read_running(run_dir)
        if running is not None:
            if is_healthy(endpoint.url):
                return running  # another hangar process started it while we waited for the lock
            stop(run_dir)  # ours, alive, but not answering: hung, so replace it
        run_dir.filesystem.mkdir(parents=True, exist_ok=True)
        with run_dir.log_file.open("wb") as log:
            process = subprocess.Popen(
                runtime_command(python),
                cwd=run_dir.path,
                env=runtime_env(endpoint, run_dir.filesystem),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: a Ctrl-C in the terminal spares it
            )
        started = HostProcess(pid=process.pid, started_at=time.time(), endpoint=endpoint.url)
        _write_pid_file(run_dir, started)
        try:
            _wait_until_healthy(endpoint, process, run_dir, timeout)
        except BaseException:
            stop(run_dir)
            raise
        return started


def _wait_until_healthy(
    endpoint: Endpoint, process: subprocess.Popen[bytes], run_dir: RunDir, timeout: float
) -> None:
    with console.step(
        f"Starting LocalStack {LOCALSTACK_VERSION} (host mode, pid {process.pid}) on {endpoint.url}"
    ):
        started = time.monotonic()
        next_report = started + 5
        while not is_healthy(endpoint.url, timeout=1.0):
            now = time.monotonic()
            if process.poll() is not None:
                raise HangarError(
                    f"LocalStack exited with code {process.returncode} before it answered "
                    f"on {endpoint.url}.\n{log_tail(run_dir)}",
                    f"full log: {_shown(run_dir.log_file)}",
                )
            if now - started > timeout:
                raise HangarError(
                    f"LocalStack did not answer {endpoint.url}/_localstack/health within "
                    f"{timeout:.0f}s.\n{log_tail(run_dir)}",
                    "raise HANGAR_LOCALSTACK_TIMEOUT on a slow machine; "
                    f"full log: {_shown(run_dir.log_file)}",
                )
            if now >= next_report:
                console.info(f"    still waiting for /_localstack/health ({now - started:.0f}s)")
                next_report = now + 5
            time.sleep(0.25)


def log_tail(run_dir: RunDir, lines: int = LOG_TAIL_LINES) -> str:
    try:
        tail = run_dir.log_file.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log was written)"
    return f"last {len(tail)} log lines:\n" + "\n".join(f"  | {line}" for line in tail)


def _write_pid_file(run_dir: RunDir, process: HostProcess) -> None:
    identity = json.loads(processes.ProcessRecord.of(process.pid).dumps())
    record = {**identity, "started_at": process.started_at, "endpoint": process.endpoint}
    run_dir.pid_file.write_text(json.dumps(record) + "\n")


def read_running(run_dir: RunDir) -> HostProcess | None:
    """The process the pid file names, if it still runs and is still the one we started (same
    start time and command line: the pid was not reused)."""
    try:
        text = run_dir.pid_file.read_text()
        identity = processes.ProcessRecord.parse(text)
        record = json.loads(text)
        running = HostProcess(
            pid=int(record["pid"]),
            started_at=float(record["started_at"]),
            endpoint=str(record["endpoint"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if identity is None or not identity.is_running():
        return None
    return running


def is_running(pid: int) -> bool:
    try:
        # Reap it if it is our own child, so that a finished child does not linger as a zombie.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def terminate(pid: int, grace: float = STOP_GRACE_SECONDS) -> str:
    """SIGTERM the process group, SIGKILL it after `grace` seconds; returns how it ended.

    LocalStack can hang in its shutdown hooks after heavy use, so the grace period is bounded.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _signal_group(pid, sig)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            if not is_running(pid):
                return "terminated" if sig == signal.SIGTERM else "killed"
            time.sleep(0.1)
    raise HangarError(
        f"process {pid} survived SIGKILL", f"check it with `ps -o pid,stat,cmd -p {pid}`"
    )


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)  # also reaches the helpers LocalStack spawned
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop(run_dir: RunDir) -> HostProcess | None:
    """Stop the process this run dir's pid file names; returns it, or None when none was running."""
    running = read_running(run_dir)
    if running is not None:
        with console.step(f"Stopping LocalStack (host mode, pid {running.pid})"):
            how = terminate(running.pid)
            if how == "killed":
                console.warn(f"LocalStack ignored SIGTERM for {STOP_GRACE_SECONDS:.0f}s; killed it")
    run_dir.pid_file.unlink(missing_ok=True)
    return running


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
