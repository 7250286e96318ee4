"""`make dev` on a machine without Docker: the whole loop on the host, with AWS.

The Docker engine is hidden (a socket that does not exist), so `hangar dev` chooses host mode by
itself, starts the pinned LocalStack from its own virtualenv on a port of this test's, deploys the
local stage into it and runs the dev server and the worker as host processes. An upload through
the dev server must land in the stack's bucket and be processed by the worker through its queue;
`hangar down` must then stop all of it, LocalStack included. The macOS job runs this test too.
"""

import hashlib
import uuid
from pathlib import Path

import pytest
from compose_project import Session, local_s3, until_handled, upload_text
from hostdev import host_env, wait_http

from hangar.core import ports
from hangar.core.paths import LOCAL_ENV_FILE
from hangar.devloop import dev_superuser

pytestmark = [pytest.mark.e2e, pytest.mark.without_docker]


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

        session = Session(base, dev_superuser.USERNAME, dev_superuser.PASSWORD)
        body = f"host-mode upload {uuid.uuid4()}\n".encode()
        document = upload_text(session, "host.txt", body)
        stored = local_s3(localstack_port).get_object(
            Bucket=local_env()["DOCUMENTS_BUCKET"], Key=document["storage_key"]
        )
        assert stored["Body"].read() == body

        document = until_handled(session, document, timeout=120)
        logs = "".join(path.read_text() for path in (tmp_path / "dev").glob("*.log"))
        assert document["status"] == "processed", f"{document}\n{logs[-4000:]}"
        assert document["sha256"] == hashlib.sha256(body).hexdigest()
    finally:
        stopped = dev.hangar("down", timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "Stop the LocalStack `make dev` started" in stopped.stdout
    for port in (dev.web_port, dev.debug_port, localstack_port):
        assert ports.is_free(port), f"port {port} outlived `hangar down`"
