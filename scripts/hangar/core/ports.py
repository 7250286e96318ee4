"""Is a TCP port free, and if not, who holds it (another checkout's container, or a process) —
checked before anything is started."""

import errno
import ipaddress
import os
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hangar.core import docker_client
from hangar.core.errors import HangarError

# The one switch that lets the dev servers listen beyond this machine: compose.yaml publishes every
# port on ${HANGAR_BIND_ADDRESS:-127.0.0.1} and host mode binds the same address.
BIND_ADDRESS_VARIABLE = "HANGAR_BIND_ADDRESS"
LOOPBACK = "127.0.0.1"

_PROC = Path("/proc")
# Compose labels every container it creates with its project and the checkout it came from.
_PROJECT_LABEL = "com.docker.compose.project"
_CHECKOUT_LABEL = "com.docker.compose.project.working_dir"
_TCP_LISTEN = "0A"  # state column of /proc/net/tcp for a listening socket


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on `port`.

    Binding rather than connecting: a connection would be accepted as a client by debugpy's adapter,
    which then refuses the real debugger's session.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def bind_address(environ: Mapping[str, str] = os.environ) -> str:
    """Where dev servers listen: loopback, unless the user opts in through HANGAR_BIND_ADDRESS.

    IPv4 only: compose's `ADDRESS:PORT:PORT` syntax would need brackets around an IPv6 address.
    """
    value = environ.get(BIND_ADDRESS_VARIABLE, "").strip() or LOOPBACK
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise HangarError(
            f"{BIND_ADDRESS_VARIABLE}={value!r} is not an IPv4 address",
            f"unset it to keep the dev servers on {LOOPBACK} (this machine only), or set it to "
            "an address of this machine (0.0.0.0: every interface)",
        ) from None
    return value


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address == "localhost"


def spare_port() -> int:
    """A port nothing listens on now, chosen by the kernel (free until someone else takes it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Container:
    """A running container that publishes a host port."""

    name: str
    project: str  # its compose project; "" for a container compose did not create
    checkout: str  # where that project's compose.yaml lives; "" likewise

    @property
    def of_another_checkout(self) -> bool:
        return self.project not in ("", docker_client.compose_project())

    def describe(self) -> str:
        if not self.project:
            return f"container {self.name}"
        whose = (
            f"the checkout {self.checkout or '?'}'s"
            if self.of_another_checkout
            else "this checkout's"
        )
        return f"container {self.name} ({whose} compose project {self.project})"

    def how_to_stop(self) -> str:
        # compose finds a project's containers by its label alone: this works where `make down`
        # in that checkout names another project (one started before the checkout was moved).
        if self.project:
            where = self.checkout or "its checkout"
            return f"`make down` in {where} or `docker compose -p {self.project} down`"
        return f"`docker rm --force {self.name}`"


def publishing_container(port: int) -> Container | None:
    """The running container that publishes `port` on this machine, if Docker answers.

    Asked of the engine, not of /proc: where Docker publishes without its userland proxy (or runs
    in a VM, as Docker Desktop does) no process of this machine holds the port.
    """
    if not shutil.which("docker"):
        return None
    labels = "\t".join(f'{{{{.Label "{label}"}}}}' for label in (_PROJECT_LABEL, _CHECKOUT_LABEL))
    try:
        listing = subprocess.run(
            [
                "docker",
                "ps",
                "--filter",
                f"publish={port}",
                "--format",
                f"{{{{.Names}}}}\t{labels}",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    rows = [line.split("\t") for line in listing.stdout.splitlines() if line.strip()]
    if listing.returncode != 0 or not rows:
        return None
    name, project, checkout = (*rows[0], "", "")[:3]
    return Container(name, project, checkout)


def holder(port: int) -> str | None:
    """Who listens on `port`: a container ("container hangar-main-3f2a9c-localstack-1 (the
    checkout /src/main's compose project hangar-main-3f2a9c)"), else a process ("pid 123: python
    manage.py runserver")."""
    if container := publishing_container(port):
        return container.describe()
    return process_holder(port)


def process_holder(port: int) -> str | None:
    """A description ("pid 123: python manage.py runserver") of the process listening on `port`."""
    if _PROC.joinpath("net", "tcp").exists():
        return _holder_from_proc(port)
    if shutil.which("lsof"):
        listing = subprocess.run(
            ["lsof", "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.split()
        fields = {line[0]: line[1:] for line in listing if line}
        if "p" in fields:
            return f"pid {fields['p']}: {fields.get('c', '?')}"
    return None


def _holder_from_proc(port: int) -> str | None:
    inodes = set()
    for table in ("tcp", "tcp6"):
        path = _PROC / "net" / table
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            columns = row.split()
            local_port = int(columns[1].rsplit(":", 1)[1], 16)
            if local_port == port and columns[3] == _TCP_LISTEN:
                inodes.add(f"socket:[{columns[9]}]")
    if not inodes:
        return None
    for pid_dir in _PROC.iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (pid_dir / "fd").iterdir()):
                command = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                return f"pid {pid_dir.name}: {_shorten(command)}"
        except OSError:  # the process exited or belongs to someone we may not inspect
            continue
    return "a process this user cannot inspect (or another network namespace, e.g. a container)"


def _shorten(command: str, limit: int = 160) -> str:
    """Long command lines keep their head (the program) and tail (what it serves); on one line
    (`python -c` scripts span several)."""
    command = " ".join(command.split())
    if len(command) <= limit:
        return command
    return f"{command[: limit // 3]} … {command[-(limit - limit // 3) :]}"


def ensure_free(ports: Mapping[int, str], how_to_change: str) -> None:
    """Fail before starting anything if one of `ports` ({port: what it is for}) is taken."""
    for port, purpose in ports.items():
        if not is_free(port):
            raise port_taken(port, purpose, how_to_change)


def port_taken(port: int, purpose: str, how_to_change: str) -> HangarError:
    """The one-line error for a taken port: who holds it, how to free it, or how to move."""
    container = publishing_container(port)
    if container is None:
        held_by = process_holder(port) or "an unknown process"
        stop = "stop that process (if it is an earlier `make dev`, run `make down`)"
    else:
        held_by = container.describe()
        stop = f"stop it ({container.how_to_stop()})"
    return HangarError(
        f"port {port} ({purpose}) is already in use by {held_by}", f"{stop}, or {how_to_change}"
    )
