"""`make dev` on a machine without Docker: the whole loop on the host, with AWS.

The Docker engine is hidden (a socket that does not exist), so `hangar dev` chooses host mode by
itself, starts the pinned LocalStack from its own virtualenv on a port of this test's, deploys the
local stage into it and runs the dev server and the worker (when the contract declares one) as host
processes. The buckets and queues the contract declares must be in that LocalStack by the names the
app is handed; `hangar down` must then stop all of it, LocalStack included. The macOS job runs this
test too. (What a project does with them, such as the sample's upload processed by its worker, its
own tests show, on the compose stack.)
"""

from pathlib import Path
from typing import Any

import boto3
import pytest
from hostdev import host_env, wait_http

from hangar.core import ports
from hangar.core.contract import contract
from hangar.core.paths import LOCAL_ENV_FILE

pytestmark = [pytest.mark.e2e, pytest.mark.without_docker]


def local_client(service: str, port: int) -> Any:
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def local_env() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in LOCAL_ENV_FILE.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.mark.usefixtures("local_stage_state")
def test_make_dev_without_docker_runs_the_whole_loop_on_the_host(
    tmp_path: Path, without_docker: dict[str, str]
) -> None:
    dev = host_env(tmp_path)
    localstack_port = ports.spare_port()
    del dev.env["HANGAR_DEV_MODE"]  # chosen by itself, as on a laptop without Docker
    del dev.env["HANGAR_ENV_FILE"]  # the settings read what deploy-local writes
    # A LocalStack of its own, on its port: not one the test harness points this process at.
    for variable in ("LOCALSTACK_ENDPOINT", "HANGAR_LOCALSTACK_MODE"):
        dev.env.pop(variable, None)
    dev.env.update(without_docker, HANGAR_LOCALSTACK_PORT=str(localstack_port))
    started = dev.hangar("dev", "--detach", timeout=900)
    try:
        output = started.stdout + started.stderr
        assert started.returncode == 0, output[-4000:]
        assert "mode: host (no Docker engine" in output
        assert (
            f"Deploy the local stage into LocalStack at http://127.0.0.1:{localstack_port}"
            in output
        )
        base = f"http://127.0.0.1:{dev.web_port}"
        assert wait_http(f"{base}/healthz", timeout=120)[0] == 200

        handed = local_env()
        s3, sqs = (local_client(service, localstack_port) for service in ("s3", "sqs"))
        for bucket in contract().buckets:
            s3.head_bucket(Bucket=handed[bucket.env])
        for queue in contract().queues:
            sqs.get_queue_attributes(QueueUrl=handed[queue.env], AttributeNames=["QueueArn"])
        logs = {path.stem for path in (tmp_path / "dev").glob("*.log")}
        assert ("worker" in logs) == (contract().worker_command is not None), logs
    finally:
        stopped = dev.hangar("down", timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "Stop the LocalStack `make dev` started" in stopped.stdout
    for port in (dev.web_port, dev.debug_port, localstack_port):
        assert ports.is_free(port), f"port {port} outlived `hangar down`"
