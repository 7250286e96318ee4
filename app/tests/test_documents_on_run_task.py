"""The documents workload on the web and worker tasks `hangar run-task --stage local` runs from the
deployed stage (the fixtures come from hangar.testing.run_tasks): the web task's liveness while S3
or PostgreSQL is down under uploading clients, /readyz naming what is down, and a worker stopped
mid-job that finishes it while its replacement leaves it alone.
"""

import itertools
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import urllib3
from hangar.core import capacity
from hangar.core.aws_clients import DEFAULT_REGION, aws_client
from hangar.core.stages import STAGES
from hangar.deploy import run_task, task_docker
from hangar.testing.client_load import ClientThreads, wait_until
from hangar.testing.containers import Compose
from hangar.testing.run_tasks import PRIVATE_IP_HOST, inspect, remove_container

pytestmark = pytest.mark.e2e


LOG_IN_IN_THE_WEB_TASK = """
from django.contrib.auth import get_user_model
from django.test import Client
member, _ = get_user_model().objects.get_or_create(username="e2e-member")
client = Client()
client.force_login(member)
print(client.cookies["sessionid"].value)
"""
# Any 32 letters and digits: Django checks that the header repeats the cookie's secret.
CSRF_SECRET = "e2e" + "0" * 29


@pytest.fixture(scope="module")
def member_headers(web_task: run_task.RunningTask) -> dict[str, str]:
    """What a browser logged in as a member sends with an API call (uploads require a login):
    its session, created in the web task's database, and the CSRF cookie and header."""
    shell = ["docker", "exec", web_task.container, "python", "manage.py", "shell"]
    session = subprocess.run(
        [*shell, f"--command={LOG_IN_IN_THE_WEB_TASK}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()[-1]
    return {
        "Host": "localhost",
        "Cookie": f"sessionid={session}; csrftoken={CSRF_SECRET}",
        "X-CSRFToken": CSRF_SECRET,
    }


def test_readyz_names_the_database_s3_and_sqs_and_nothing_of_them(
    web_task: run_task.RunningTask, deployed_stage: dict[str, str]
) -> None:
    assert web_task.url is not None
    # Ready within a minute, as a load balancer retries: each check has a 2 s timeout, which a
    # loaded machine once exceeded on the first call (503), while every dependency was up.
    deadline = time.monotonic() + 60
    while (answer := readyz(web_task.url))[0] != 200 and time.monotonic() < deadline:
        time.sleep(1)
    status, body = answer
    checks = json.loads(body)["checks"]
    assert status == 200, checks
    # Anonymous: which dependency is up, and nothing of the bucket, the queue or an error.
    assert checks == {"database": {"ok": True}, "s3": {"ok": True}, "sqs": {"ok": True}}
    # The one bucket and queue configured came from the deployed stack: both answered.
    assert deployed_stage["DOCUMENTS_BUCKET"].encode() not in body


def readyz(url: str) -> tuple[int, bytes]:
    """/readyz's status and body, a 503 included."""
    return http_with_timeout(f"{url}/readyz", headers={"Host": "localhost"}, timeout=30)


# --- a dependency outage under load --------------------------------------------------------------
# The report: with LocalStack paused under 12 uploading clients, every /healthz timed out
# because every gunicorn thread was stuck on S3, and the ALB would have replaced every task.
UPLOAD_CLIENTS = 12
OUTAGE_SECONDS = 25
# What the ALB allows a health check (hangar_infra's target group); the issue asks for 1 s, which
# docs/benchmarks.md records as measured here (the test asserts behaviour, not the figure).
ALB_HEALTH_CHECK_TIMEOUT = 5
NO_ANSWER = 0  # a probe's status when no answer came within ALB_HEALTH_CHECK_TIMEOUT
CLIENT_TIMEOUT = 30


@dataclass
class Outcome:
    started: float
    seconds: float
    status: int  # 0: no answer within CLIENT_TIMEOUT
    body: bytes


class UploadLoad(ClientThreads):
    """UPLOAD_CLIENTS clients posting small documents in a loop until stopped."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(UPLOAD_CLIENTS, timeout=CLIENT_TIMEOUT)
        self.url = f"{url}/api/documents/"
        self.headers = headers
        self.outcomes: list[Outcome] = []

    def request_once(self) -> None:
        started = time.monotonic()
        try:
            response = self.http.request(
                "POST",
                self.url,
                fields={"file": ("notes.txt", b"outage test\n", "text/plain")},
                headers=self.headers,
            )
            status, body = response.status, response.data
        except urllib3.exceptions.HTTPError as error:
            status, body = 0, str(error).encode()
        self.outcomes.append(Outcome(started, time.monotonic() - started, status, body))
        if status != 201:
            time.sleep(0.2)  # a client honouring Retry-After would wait longer

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.started < end]


def percentile(values: list[float], percent: int) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, len(values) * percent // 100)]


def probe_healthz(url: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status, _ = http_with_timeout(
            f"{url}/healthz", headers={"Host": PRIVATE_IP_HOST}, timeout=ALB_HEALTH_CHECK_TIMEOUT
        )
    except OSError:
        status = NO_ANSWER
    return status, time.monotonic() - started


def http_with_timeout(url: str, *, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (this run's loopback URL)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize(
    ("service", "dependency", "bounded"),
    [
        # S3 and SQS calls time out (config.aws), so every upload is answered during the outage.
        ("localstack", "s3", True),
        # A frozen PostgreSQL keeps its TCP connections open and libpq has no read timeout: the
        # requests on those connections wait until it returns, but only up to the request slots.
        ("db", "database", False),
    ],
    ids=["s3", "database"],
)
def test_liveness_survives_a_dependency_outage_under_load(
    web_task: run_task.RunningTask,
    member_headers: dict[str, str],
    compose: Compose,
    service: str,
    dependency: str,
    bounded: bool,
) -> None:
    assert web_task.url is not None
    url = web_task.url
    probes: list[tuple[int, float]] = []
    with UploadLoad(url, member_headers) as load:
        time.sleep(3)
        compose.pause(service)
        paused = time.monotonic()
        try:
            while time.monotonic() - paused < OUTAGE_SECONDS:
                probes.append(probe_healthz(url))
                time.sleep(0.5)
            ready_status, ready_body = http_with_timeout(
                f"{url}/readyz", headers={"Host": "localhost"}, timeout=ALB_HEALTH_CHECK_TIMEOUT
            )
        finally:
            compose.run("unpause", service)
        resumed = time.monotonic()
        deadline = resumed + 60
        while time.monotonic() < deadline and not any(
            o.status == 201 for o in load.between(resumed, deadline)
        ):
            time.sleep(0.5)
        recovered = min(
            (o.started + o.seconds for o in load.between(resumed, deadline) if o.status == 201),
            default=None,
        )
    during = load.between(paused, resumed)
    latencies = sorted(seconds for _, seconds in probes)
    statuses = {status for status, _ in probes}
    answered = [o for o in during if o.status]
    refused_seconds = sorted(o.seconds for o in during if o.status == 503)
    print(
        f"\n{dependency} paused {OUTAGE_SECONDS} s under {UPLOAD_CLIENTS} uploading clients: "
        f"{len(probes)} /healthz probes, statuses {sorted(statuses)}, "
        f"median {percentile(latencies, 50) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
        f"{len(during)} uploads during the outage: {len(refused_seconds)} answered 503 "
        f"(median {percentile(refused_seconds, 50):.2f} s, "
        f"max {percentile(refused_seconds, 100):.2f} s), "
        f"{sum(o.status == 201 for o in during)} answered 201, "
        f"{sum(o.status == 0 for o in during)} without an answer in {CLIENT_TIMEOUT} s"
    )
    # Every answer is 200. A probe may go unanswered alone, never two in a row: the ALB replaces a
    # task after 3 failed checks 15 s apart (hangar_infra's target group), and the bug this guards
    # against (every thread stuck on the dependency) failed every probe. CI's saturated machine once
    # took 5 s to answer the probe sent as the outage began, and 2 s the next.
    assert statuses - {NO_ANSWER} == {200}, (
        f"/healthz failed during the {dependency} outage: {probes}"
    )
    unanswered = [i for i, (status, _) in enumerate(probes) if status == NO_ANSWER]
    assert all(b - a > 1 for a, b in itertools.pairwise(unanswered)), (
        f"/healthz went unanswered twice in a row during the {dependency} outage: {probes}"
    )
    if bounded:
        # Every upload got an answer (no thread held until the dependency came back) ...
        assert len(answered) == len(during), [o for o in during if not o.status]
    refused = [o for o in during if o.status == 503]
    assert refused, "no upload was refused while its dependency was paused"
    for outcome in refused:
        body = json.loads(outcome.body)
        assert body["error"], body
        assert body.get("dependency", dependency) == dependency, body
    # ... readiness named what was down ...
    assert ready_status == 503
    checks = json.loads(ready_body)["checks"]
    assert checks[dependency]["ok"] is False, checks
    # ... and the service came back by itself.
    assert recovered is not None, "no upload succeeded within 60 s of the dependency's return"
    print(f"first successful upload {recovered - resumed:.1f} s after the dependency returned")


# --- the worker stopped mid-job ------------------------------------------------------------------
# ECS replaces a worker task the way it replaces a web task: the new task starts first (max 200 %),
# then the old one gets SIGTERM and, after the stop timeout, SIGKILL. The job must not be lost, and
# the replacement must not run it a second time while the old task is still finishing it.


def db_connection(compose: Compose) -> psycopg.Connection:
    """The compose `db`, reached at its container address (Linux routes the bridge network)."""
    container = compose.run("ps", "--quiet", "db").stdout.strip()
    networks = json.loads(inspect(container, "{{json .NetworkSettings.Networks}}"))
    address = networks[f"{compose.project}_default"]["IPAddress"]
    return psycopg.connect(host=address, user="hangar", password="hangar", dbname="hangar")


def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def start_replacement(original: str, name: str, env_file: Path) -> None:
    """A second task of the same task definition: the original's image, command, environment
    and network (values through a file, never argv)."""
    config = json.loads(inspect(original, "{{json .Config}}"))
    networks = json.loads(inspect(original, "{{json .NetworkSettings.Networks}}"))
    env_file.write_text("\n".join(config["Env"]) + "\n")
    subprocess.run(
        [
            *("docker", "run", "--detach", f"--name={name}", f"--network={next(iter(networks))}"),
            *(f"--env-file={env_file}", "--no-healthcheck", config["Image"], *config["Cmd"]),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def only_run_task_workers(compose: Compose) -> Iterator[None]:
    """The compose stack's own `worker` (started by other e2e modules on this session's project)
    consumes the same queue: it would take the followed message before the run-task worker."""
    running = compose.run("ps", "--status", "running", "--services").stdout.split()
    if "worker" in running:
        compose.run("stop", "worker")
    try:
        yield
    finally:
        if "worker" in running:
            compose.run("start", "worker")


@pytest.mark.usefixtures("only_run_task_workers")
def test_a_worker_stopped_mid_job_finishes_it_and_nobody_runs_it_twice(
    web_task: run_task.RunningTask,
    member_headers: dict[str, str],
    compose: Compose,
    deployed_stage: dict[str, str],
    tmp_path: Path,
) -> None:
    assert web_task.url is not None
    queue_url = deployed_stage["TASKS_QUEUE_URL"]
    sqs = aws_client(
        "sqs",
        region=DEFAULT_REGION,
        endpoint=f"http://127.0.0.1:{compose.ports['LOCALSTACK_PORT']}",
    )
    visibility_timeout = STAGES["local"].queue_visibility_timeout_seconds
    # The outage tests' uploads are still queued (no worker ran): this test follows one message.
    sqs.purge_queue(QueueUrl=queue_url)
    wait_until(lambda: queue_counts(sqs, queue_url) == (0, 0), 60, "the queue purged")
    uploaded = urllib3.request(
        "POST",
        f"{web_task.url}/api/documents/",
        fields={"file": ("notes.txt", b"a job stopped half way\n", "text/plain")},
        headers=member_headers,
        timeout=30,
    )
    assert uploaded.status == 201, uploaded.data
    document_id = uploaded.json()["id"]

    old = task_docker.container_name(compose.project, "worker")
    replacement = f"{compose.project}-worker-replacement"
    with db_connection(compose) as holder, db_connection(compose) as observer:
        # The job is held mid-flight by a transaction that holds its document's row, as any
        # concurrent writer would: the worker's first UPDATE waits for it. No hook in the app.
        holder.execute("SELECT id FROM documents_document WHERE id = %s FOR UPDATE", [document_id])
        observer.autocommit = True

        def job_waits_on_the_row() -> int:
            row = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                """AND query LIKE 'UPDATE "documents_document"%%'"""
            ).fetchone()
            return int(row[0]) if row else 0

        try:
            options = run_task.Options(
                stage="local", task="worker", compose_project=compose.project, detach=True
            )
            run_task.run(options)
            # run-task removes the container when it exits (--rm): follow its log and exit code.
            old_log = subprocess.Popen(
                ["docker", "logs", "--follow", old],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            old_exit = subprocess.Popen(["docker", "wait", old], stdout=subprocess.PIPE, text=True)
            wait_until(lambda: job_waits_on_the_row() == 1, 60, "the worker's job to start")
            assert queue_counts(sqs, queue_url) == (0, 1), "the message is not in the worker's hand"

            start_replacement(old, replacement, tmp_path / "worker.env")
            stop_started = time.monotonic()
            stopping = subprocess.Popen(
                ["docker", "stop", f"--time={capacity.WORKER_STOP_TIMEOUT_SECONDS}", old],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            # Long enough for SQS to hand an unguarded message to the replacement.
            time.sleep(3 * visibility_timeout)
            holder.commit()
            stopping.wait(capacity.WORKER_STOP_TIMEOUT_SECONDS + 30)
            stop_seconds = time.monotonic() - stop_started
            log, _ = old_log.communicate(timeout=30)
            exit_code, _ = old_exit.communicate(timeout=30)

            def processed() -> bool:
                row = observer.execute(
                    "SELECT status FROM documents_document WHERE id = %s", [document_id]
                ).fetchone()
                return row is not None and row[0] == "processed"

            wait_until(processed, 60, "the document processed")
            wait_until(lambda: queue_counts(sqs, queue_url) == (0, 0), 60, "the queue empty")
            # The replacement keeps polling: give it the time it would need to run a redelivery.
            time.sleep(2 * visibility_timeout)
            replacement_log = subprocess.run(
                ["docker", "logs", replacement], capture_output=True, text=True, check=True
            )
        finally:
            remove_container(replacement)
            remove_container(old)

    print(
        f"\nworker stopped mid-job with docker stop --time={capacity.WORKER_STOP_TIMEOUT_SECONDS}"
        f": exited {exit_code.strip()} after {stop_seconds:.1f} s (the job was held "
        f"{3 * visibility_timeout} s of it)"
    )
    assert stopping.returncode == 0, stopping.stderr
    # It finished the job and exited by itself, not killed at the stop timeout (137).
    assert exit_code.strip() == "0", log
    assert stop_seconds < capacity.WORKER_STOP_TIMEOUT_SECONDS
    assert "SIGTERM received: stopping after the current message." in log
    assert "worker stopped after 1 message(s)" in log
    assert f"processed document {document_id}" in log
    # The replacement did not run it again, or the idempotency check said it skipped it.
    replacement_output = replacement_log.stdout + replacement_log.stderr
    assert f"processed document {document_id}" not in replacement_output, replacement_output
