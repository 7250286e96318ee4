"""`make status`, `make logs STAGE=`, `make releases` and `make rollback` against the local stage in
LocalStack, each run as the user runs it (a process of its own).

What LocalStack serves is real here: the release records (SSM), the stage's alarms (CloudWatch),
its app log group (CloudWatch Logs), the service stack (CloudFormation) and the rollback's deploy
of it with cdklocal. LocalStack (free) has no ECS: status must say so. The images rolled back to
are tiny OCI images made here and pushed into the local stand-in for ECR by the deploy's own push
(hangar.deploy.image.publish), so the rollback finds them there by digest as it would in ECR.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from oci_images import oci_archive

from hangar.core.contract import contract
from hangar.core.git import head_commit
from hangar.deploy import image, releases
from hangar.deploy.releases import Release

pytestmark = pytest.mark.integration

REGION = "us-east-1"
STAGE = "local"
GROUP = "/hangar/local/app"


def hangar(endpoint: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hangar.cli", *argv],
        env={**os.environ, "LOCALSTACK_ENDPOINT": endpoint},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0], result.stderr


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def ssm(localstack_endpoint: str, deployed_stack: dict[str, str]) -> Iterator[Any]:
    """The local stage's SSM, without release records before and after the test."""
    ssm = client(localstack_endpoint, "ssm")

    def clear() -> None:
        names = [r.parameter_name(STAGE) for r in releases.load(ssm, STAGE)]
        for start in range(0, len(names), 10):
            ssm.delete_parameters(Names=names[start : start + 10])

    clear()
    yield ssm
    clear()


def release(sha: str, at: str, digest: str, **migrations: str) -> Release:
    return Release(sha, digest, at, "alice", scanned=True, migrations=migrations)


OLD = release("a" * 40, "20261201T100000Z", "sha256:" + "1" * 64, orders="0001_initial")
NEW = release("b" * 40, "20261202T100000Z", "sha256:" + "2" * 64, orders="0002_tags")


def test_releases_lists_the_records_newest_first(localstack_endpoint: str, ssm: Any) -> None:
    one_line_error(
        hangar(localstack_endpoint, "releases", "--stage", STAGE), "no recorded releases"
    )
    for record in (OLD, NEW):
        releases.record(ssm, STAGE, record)

    result = hangar(localstack_endpoint, "releases", "--stage", STAGE)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    newest = next(i for i, line in enumerate(lines) if "b" * 12 in line)
    oldest = next(i for i, line in enumerate(lines) if "a" * 12 in line)
    assert newest < oldest
    assert "2026-12-02 10:00:00 *" in lines[newest]
    assert "sha256:222222222222" in lines[newest]


def test_a_deploy_of_cis_scanned_image_records_its_release(
    localstack_endpoint: str, ssm: Any, tmp_path: Path
) -> None:
    """The deploy CI runs (its scanned OCI archive, no Docker here) leaves the record."""
    sha = head_commit()
    archive = oci_archive(tmp_path / "image.oci.tar", sha)
    report = tmp_path / "trivy-report.json"
    report.write_text(json.dumps({"Metadata": {"ImageID": archive.image_id}}))

    result = hangar(
        localstack_endpoint,
        "deploy",
        "--stage",
        STAGE,
        "--image-tag",
        sha,
        "--image-archive",
        str(archive.path),
        "--scan-report",
        str(report),
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert f"==> Record release {sha[:12]} in SSM" in output
    [recorded] = releases.load(ssm, STAGE)
    assert (recorded.sha, recorded.digest, recorded.scanned) == (sha, archive.digest, True)
    assert recorded.migrations == releases.migration_heads(contract().project_path)
    assert recorded.deployed_by
    assert not recorded.rollback


def test_rollback_refuses_in_one_line_and_changes_nothing(
    localstack_endpoint: str, ssm: Any
) -> None:
    one_line_error(
        hangar(localstack_endpoint, "rollback", "--stage", STAGE), "no recorded releases"
    )
    for record in (OLD, NEW):
        releases.record(ssm, STAGE, record)

    behind = hangar(localstack_endpoint, "rollback", "--stage", STAGE)
    one_line_error(behind, "its image lacks migrations the database has applied: orders 0002_tags")
    unknown = hangar(localstack_endpoint, "rollback", "--stage", STAGE, "--to", "cafe123")
    one_line_error(unknown, "no release of stage local has SHA cafe123")
    running = hangar(localstack_endpoint, "rollback", "--stage", STAGE, "--to", "b" * 7)
    one_line_error(running, "already runs bbbbbbbbbbbb")
    # Level with the database, but its image is not in the registry (never pushed here).
    gone = release("c" * 40, "20261203T100000Z", "sha256:" + "3" * 64, orders="0002_tags")
    releases.record(ssm, STAGE, gone)
    missing = hangar(localstack_endpoint, "rollback", "--stage", STAGE, "--to", "b" * 40)
    one_line_error(missing, f"no longer holds {NEW.digest}")

    assert releases.load(ssm, STAGE) == [OLD, NEW, gone]


def test_rollback_redeploys_the_earlier_digest_and_records_it(
    localstack_endpoint: str, ssm: Any, tmp_path: Path
) -> None:
    registry = image.Registry.local(STAGE)
    shas = [f"{n}" * 40 for n in "de"]
    pushed = []
    for sha in shas:
        archive = oci_archive(tmp_path / f"{sha[0]}.oci.tar", f"{sha}-{time.time_ns()}")
        pushed.append(image.publish(registry, sha, archive, lambda: pytest.fail("no build")))
    earlier = release(shas[0], "20261204T100000Z", pushed[0], orders="0001_initial")
    running = release(shas[1], "20261205T100000Z", pushed[1], orders="0001_initial")
    for record in (earlier, running):
        releases.record(ssm, STAGE, record)

    result = hangar(localstack_endpoint, "rollback", "--stage", STAGE)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert (
        f"Rolling stage local (LocalStack at {localstack_endpoint}) back from {shas[1][:12]}"
        in output
    )
    cloudformation = client(localstack_endpoint, "cloudformation")
    template = cloudformation.get_template(StackName="hangar-local-service")["TemplateBody"]
    template = template if isinstance(template, dict) else json.loads(template)
    images = [
        json.dumps(container["Image"])
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
        for container in resource["Properties"]["ContainerDefinitions"]
    ]
    assert images
    assert all(f"@{pushed[0]}" in reference for reference in images), images
    recorded = releases.load(ssm, STAGE)
    assert [r.sha for r in recorded] == [shas[0], shas[1], shas[0]]
    assert recorded[-1].rollback
    assert recorded[-1].digest == pushed[0]

    status = hangar(localstack_endpoint, "status", "--stage", STAGE)
    assert status.returncode == 0, status.stderr
    assert "Last deploy: " in status.stdout
    assert f"{shas[0][:12]} ({pushed[0][:19]}) by" in status.stdout
    assert "(rollback)" in status.stdout


def test_status_says_what_localstack_lacks_and_reads_the_rest(
    localstack_endpoint: str, ssm: Any
) -> None:
    cloudwatch = client(localstack_endpoint, "cloudwatch")
    probes = {"hangar-local-day-two-probe": True, "hangar-dev-day-two-probe": False}
    for name in probes:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="Probe",
            Namespace="Hangar/Test",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="probe")
    releases.record(ssm, STAGE, NEW)
    try:
        result = hangar(localstack_endpoint, "status", "--stage", STAGE)
    finally:
        cloudwatch.delete_alarms(AlarmNames=list(probes))

    assert result.returncode == 0, result.stderr
    assert "Stack hangar-local-service: " in result.stdout
    assert "Services: ECS not emulated by LocalStack (free)" in result.stdout
    assert f"Last deploy: 2026-12-02 10:00:00 UTC, {'b' * 12} (sha256:222222222222) by alice" in (
        result.stdout
    )
    assert "  hangar-local-day-two-probe since " in result.stdout
    assert "hangar-dev-day-two-probe" not in result.stdout
    assert "==> Read stage local" in result.stdout


@pytest.fixture
def log_streams(localstack_endpoint: str, deployed_stack: dict[str, str]) -> Iterator[Any]:
    logs = client(localstack_endpoint, "logs")
    suffix = str(time.time_ns())
    streams = {"web": f"web/app/{suffix}", "worker": f"worker/app/{suffix}"}
    for stream in streams.values():
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)

    def put(service: str, message: str | dict[str, Any]) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=streams[service],
            logEvents=[{"timestamp": int(time.time() * 1000), "message": text}],
        )

    yield put
    for stream in streams.values():
        logs.delete_log_stream(logGroupName=GROUP, logStreamName=stream)


def test_logs_pretty_print_json_and_keep_to_the_service_asked_for(
    localstack_endpoint: str, log_streams: Any
) -> None:
    log_streams(
        "web",
        {"level": "ERROR", "logger": "django.request", "message": "boom", "status": 500},
    )
    log_streams("web", "gunicorn booting")
    log_streams("worker", {"level": "INFO", "logger": "queued_jobs", "message": "done"})

    web = hangar(localstack_endpoint, "stage-logs", "--stage", STAGE, "--service", "web")
    everything = hangar(localstack_endpoint, "stage-logs", "--stage", STAGE, "--since", "1h")

    assert web.returncode == 0, web.stderr
    assert "ERROR   django.request: boom  status=500" in web.stdout
    assert "gunicorn booting" in web.stdout
    assert "queued_jobs" not in web.stdout
    assert "INFO    queued_jobs: done" in everything.stdout
    bad = hangar(localstack_endpoint, "stage-logs", "--stage", STAGE, "--since", "yesterday")
    one_line_error(bad, "SINCE='yesterday' is not a duration")


def test_following_logs_shows_lines_written_after_it_started(
    localstack_endpoint: str, log_streams: Any
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hangar.cli", "stage-logs", "--stage", STAGE, "--follow"],
        env={**os.environ, "LOCALSTACK_ENDPOINT": localstack_endpoint},
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 120
        while not any(text in line for line in lines):
            assert process.poll() is None, lines
            assert time.monotonic() < deadline, f"{text!r} never came: {lines}"
            time.sleep(0.2)
        return next(line for line in lines if text in line)

    try:
        wait_for(GROUP)  # it has started
        log_streams("web", {"level": "WARNING", "logger": "app", "message": "followed"})
        assert "WARNING app: followed" in wait_for("followed")
    finally:
        process.terminate()
        process.wait(timeout=30)
