"""A rolling replace drops nothing: two runtime containers behind HAProxy (Debian's package), which
health-checks them like the ALB, under steady load while one is replaced the way ECS does it.

ECS with min 100 % / max 200 % healthy: start the new task and wait until the load balancer finds
it healthy; deregister the old one (the ALB drains it for the deregistration delay); then SIGTERM,
then SIGKILL after the stop timeout. HAProxy's `drain` state is the ALB's draining, `docker stop
--time` is ECS's stop. HAProxy retries nothing here (`retries 0`): every failed request counts.
"""

import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from hangar.core import capacity
from hangar.core.ports import spare_port
from hangar.core.stages import STAGES
from hangar.provision import docker
from hangar.testing.client_load import ClientThreads, wait_until

pytestmark = pytest.mark.e2e

CLIENTS = 6
ALB_HEALTH_CHECK_HOST = "10.0.1.23"
APP_HOST = "app.example.com"
# A page that goes through the whole Django stack (host validation, middleware, WhiteNoise).
PATH = "/static/admin/css/base.css"


def haproxy() -> str:
    found = shutil.which("haproxy")
    if found:
        return found
    if not docker.is_root():
        pytest.fail("HAProxy is not installed: `sudo apt-get install haproxy`")
    docker.apt_install("haproxy")
    return shutil.which("haproxy") or "haproxy"


def start_task(image: str, name: str, port: int) -> None:
    """A web task of the dev stage's size, as the task definition configures it."""
    config = STAGES["dev"]
    env = {
        "DJANGO_SECRET_KEY": "e2e-not-a-secret",
        "DATABASE_URL": "sqlite:////tmp/e2e.sqlite3",
        "DJANGO_ALLOWED_HOSTS": APP_HOST,
        "DJANGO_HTTPS": "false",
        **capacity.gunicorn_size(config.web_cpu, config.web_memory_mib).environment(),
        **capacity.shutdown_environment(),
    }
    # The host's network, not Docker's bridge: a container joining the bridge briefly breaks
    # the other containers' established connections (a local artifact: each ECS task has its
    # own network interface), and that blip is not what this test is about.
    env["GUNICORN_CMD_ARGS"] = f"--bind=127.0.0.1:{port}"
    env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
    subprocess.run(
        ["docker", "run", "--detach", f"--name={name}", "--network=host", *env_args, image],
        check=True,
        capture_output=True,
        # It returns once the container runs; an engine busy with other builds and a pruning of
        # its build cache took over 60 s for it on a loaded 2-core machine.
        timeout=300,
    )


class HAProxy:
    def __init__(self, workdir: Path, ports: dict[str, int]) -> None:
        self.socket_path = workdir / "admin.sock"
        self.port = spare_port()
        servers = "\n".join(f"    server {name} 127.0.0.1:{port}" for name, port in ports.items())
        config = workdir / "haproxy.cfg"
        config.write_text(
            textwrap.dedent(f"""\
                global
                    stats socket {self.socket_path} mode 600 level admin
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 30s
                    timeout server 30s
                    retries 0
                frontend web
                    bind 127.0.0.1:{self.port}
                    default_backend web
                backend web
                    option httpchk
                    http-check send meth GET uri /healthz hdr Host {ALB_HEALTH_CHECK_HOST}
                    http-check expect status 200
                    default-server check inter 1s fall 3 rise 2
                """)
            + servers
            + "\n"
        )
        self.process = subprocess.Popen([haproxy(), "-db", "-f", str(config)])
        wait_until(
            lambda: self.socket_path.exists() or self.process.poll() is not None,
            10,
            "HAProxy's admin socket",
        )
        assert self.process.poll() is None, f"HAProxy exited with {self.process.returncode}"

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(self.socket_path))
            admin.sendall(f"{line}\n".encode())
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def _stat(self, server: str) -> dict[str, str]:
        """The `show stat` row of `server` in the web backend (its CSV header names the fields)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if (row.get("pxname"), row.get("svname")) == ("web", server):
                return row
        raise AssertionError(f"no server {server} in HAProxy's stats")

    def up(self, server: str) -> bool:
        return self._stat(server)["status"] == "UP"

    def down(self, server: str) -> bool:
        """Out of rotation (not "UP 1/3", which still takes traffic while going down)."""
        return self._stat(server)["status"] == "DOWN"

    def current_sessions(self, server: str) -> int:
        return int(self._stat(server)["scur"] or 0)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class SteadyLoad(ClientThreads):
    """CLIENTS clients fetching PATH through the proxy; what each request got, on one clock."""

    def __init__(self, url: str) -> None:
        super().__init__(CLIENTS, timeout=10)
        self.url = url
        self.ok = 0
        self.failures: list[str] = []
        self.started = time.monotonic()
        self.events: list[str] = []

    def clock(self) -> float:
        return time.monotonic() - self.started

    def event(self, what: str) -> None:
        self.events.append(f"{self.clock():.1f}s {what}")

    def request_once(self) -> None:
        try:
            response = self.http.request(
                "GET", self.url, headers={"Host": APP_HOST}, preload_content=True
            )
            if response.status == 200:
                self.ok += 1
            else:
                self.failures.append(f"{self.clock():.1f}s HTTP {response.status}")
        except urllib3.exceptions.HTTPError as error:
            self.failures.append(f"{self.clock():.1f}s {type(error).__name__}: {error}")
        time.sleep(0.02)  # steady, bounded: about 50 req/s per client at most


@pytest.fixture
def tasks(runtime_image: str) -> Iterator[dict[str, str]]:
    names = {slot: f"hangar-e2e-roll-{slot}-{time.monotonic_ns()}" for slot in "abc"}
    yield names
    for name in names.values():
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


def test_replacing_a_task_under_load_fails_no_request(
    runtime_image: str, tasks: dict[str, str], tmp_path: Path
) -> None:
    ports = {slot: spare_port() for slot in "abc"}
    for slot in "ab":
        start_task(runtime_image, tasks[slot], ports[slot])
    proxy = HAProxy(tmp_path, ports)
    try:
        # c is the replacement's target: registered, failing its checks until its task runs.
        wait_until(lambda: proxy.up("a") and proxy.up("b") and proxy.down("c"), 90, "a, b healthy")
        with SteadyLoad(f"http://127.0.0.1:{proxy.port}{PATH}") as load:
            time.sleep(3)
            # The replacement starts first and takes traffic once healthy (max 200 %).
            load.event("start the replacement")
            start_task(runtime_image, tasks["c"], ports["c"])
            wait_until(lambda: proxy.up("c"), 90, "the replacement healthy")
            load.event("replacement healthy")
            # Deregistration: no new requests to the old task, the in-flight ones finish.
            drained_at = time.monotonic()
            proxy.command("set server web/a state drain")
            load.event("old task draining")
            wait_until(
                lambda: proxy.current_sessions("a") == 0,
                capacity.DEREGISTRATION_DELAY_SECONDS,
                "the old task drained",
            )
            # Then ECS stops it: SIGTERM, SIGKILL after the stop timeout.
            stopped = subprocess.run(
                ["docker", "stop", f"--time={capacity.STOP_TIMEOUT_SECONDS}", tasks["a"]],
                capture_output=True,
                text=True,
                check=False,
                timeout=capacity.STOP_TIMEOUT_SECONDS + 30,
            )
            stop_seconds = time.monotonic() - drained_at
            load.event("old task stopped")
            time.sleep(3)
        exit_code = subprocess.run(
            ["docker", "inspect", "--format={{.State.ExitCode}}", tasks["a"]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    finally:
        proxy.stop()

    print(
        f"\nrolling replace under {CLIENTS} clients: {load.ok} requests served, "
        f"{len(load.failures)} failed; drain + stop took {stop_seconds:.1f} s"
    )
    assert stopped.returncode == 0, stopped.stderr
    # gunicorn shut down on SIGTERM by itself (0), not killed at the stop timeout (137).
    assert exit_code == "0"
    assert load.failures == [], "\n".join(sorted(load.events + load.failures))
    assert load.ok > 0
