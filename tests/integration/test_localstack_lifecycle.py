"""Host-mode LocalStack for real, on a spare port so a shared instance on 4566 is never touched."""

import argparse
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from hangar.core import ports
from hangar.core.versions import LOCALSTACK_VERSION
from hangar.localstack import commands as localstack
from hangar.localstack import host as localstack_host
from hangar.localstack.endpoint import parse_endpoint

pytestmark = [pytest.mark.integration, pytest.mark.without_docker]


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def spare_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = ports.spare_port()
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HANGAR_LOCALSTACK_MODE", "host")
    yield f"http://127.0.0.1:{port}"
    run_dir = localstack_host.RunDir.for_port(port)
    shutil.rmtree(run_dir.path, ignore_errors=True)  # a random port's state is never reused
    run_dir.path.with_suffix(".lock").unlink(missing_ok=True)


def _hangar(*argv: str) -> int:
    """`hangar ARGV` through the localstack module's own sub-parsers."""
    parser = argparse.ArgumentParser(prog="hangar")
    localstack.register(parser.add_subparsers(required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_host_mode_lifecycle(localstack_host_venv, spare_endpoint, capsys):
    port = parse_endpoint(spare_endpoint, "test").port
    handle = localstack.ensure_running()
    try:
        assert (handle.endpoint, handle.mode, handle.started_by_us) == (
            spare_endpoint,
            "host",
            True,
        )
        assert localstack.is_healthy(spare_endpoint)

        capsys.readouterr()
        assert _hangar("localstack", "status") == 0
        status = capsys.readouterr().out
        assert "mode:     host (started by hangar, pid" in status
        assert f"version:  {LOCALSTACK_VERSION}" in status
        assert f"endpoint: {spare_endpoint}" in status

        s3 = boto3.client(
            "s3",
            endpoint_url=spare_endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
        )
        s3.create_bucket(Bucket="hangar-lifecycle")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["hangar-lifecycle"]
    finally:
        handle.stop()

    assert _port_is_free(port)
    assert not localstack_host.RunDir.for_port(port).pid_file.exists()
    assert _hangar("localstack", "status") == 1


@pytest.fixture
def external_localstack(localstack_host_venv, spare_endpoint, tmp_path) -> Iterator[str]:
    """LocalStack started without Hangar's pid file: to Hangar it is someone else's instance."""
    endpoint = parse_endpoint(spare_endpoint, "test")
    process = subprocess.Popen(
        localstack_host.runtime_command(localstack_host_venv),
        env=localstack_host.runtime_env(endpoint, tmp_path / "filesystem"),
        stdout=(tmp_path / "localstack.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not localstack.is_healthy(spare_endpoint):
            assert process.poll() is None, (tmp_path / "localstack.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "external LocalStack did not become healthy"
            time.sleep(0.25)
        yield spare_endpoint
    finally:
        localstack_host.terminate(process.pid)


def test_external_instance_is_reused_and_left_running(external_localstack, capsys):
    handle = localstack.ensure_running()
    assert (handle.mode, handle.started_by_us) == ("external", False)

    handle.stop()
    assert _hangar("localstack", "down") == 0
    assert "was not started by Hangar; left it running" in capsys.readouterr().out
    assert localstack.is_healthy(external_localstack)

    assert _hangar("localstack", "status") == 0
    assert "external (not started by hangar)" in capsys.readouterr().out
