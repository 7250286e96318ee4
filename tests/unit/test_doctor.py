"""`hangar doctor`: each check against the real thing it checks (processes, sockets, HTTP, disk)."""

import argparse
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from hangar.core.paths import ROOT
from hangar.core.versions import LOCALSTACK_VERSION
from hangar.devloop import doctor
from hangar.devloop.doctor import CheckResult


def executable(path: Path, script: str) -> Path:
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_machine_without_docker_cli_fails_with_the_provision_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    result = doctor.check_docker_engine()

    assert result.status == "fail"
    assert "not installed" in result.detail
    assert result.fix is not None
    assert "hangar docker provision" in result.fix
    assert "apt-get install docker.io" in result.fix


@pytest.mark.usefixtures("docker_as_ci_provisions_it")
def test_engine_that_does_not_answer_fails_with_the_provision_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("docker") is None:
        pytest.skip("needs the docker CLI (not the engine)")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")

    result = doctor.check_docker_engine()

    assert result.status == "fail"
    assert "unix:///nonexistent" in result.detail
    assert result.fix is not None
    assert "hangar docker provision" in result.fix


@pytest.mark.usefixtures("docker_as_ci_provisions_it")
def test_a_running_engine_and_its_plugins_pass() -> None:
    if subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30).returncode:
        pytest.skip(
            "no Docker engine answers `docker info` here (hangar docker provision starts one)"
        )
    assert doctor.check_docker_engine().status == "ok"
    assert doctor.check_docker_plugin("compose").status == "ok"
    assert doctor.check_docker_plugin("buildx").status == "ok"


def test_python_older_than_313_fails() -> None:
    old = doctor.check_python((3, 11, 7))
    assert old.status == "fail"
    assert old.fix is not None
    assert "make setup" in old.fix
    assert doctor.check_python().status == "ok"


def test_uv_falls_back_to_the_project_copy_when_the_one_on_path_is_broken(tmp_path: Path) -> None:
    broken = executable(tmp_path / "uv", "echo 'pyenv: uv: command not found' >&2; exit 127")
    working = executable(tmp_path / "uv-good", "echo 'uv 0.13.9'")

    assert doctor.check_uv([str(broken)]).status == "fail"
    result = doctor.check_uv([str(broken), str(working)])
    assert result.status == "ok"
    assert result.detail.startswith("0.13.9")


def test_node_and_the_pinned_cdk_cli_pass_on_a_set_up_checkout() -> None:
    # This machine may still run Node 20 (a warning, see below); the CDK CLI works with it.
    assert doctor.check_node().status != "fail"
    result = doctor.check_cdk()
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert result == CheckResult("cdk cli", "ok", pinned)


@pytest.mark.parametrize(
    ("version", "status"), [("v18.20.0", "fail"), ("v20.19.5", "warn"), ("v22.23.5", "ok")]
)
def test_node_before_22_lts_is_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, status: str
) -> None:
    executable(tmp_path / "node", f"echo {version}")
    monkeypatch.setenv("PATH", str(tmp_path), prepend=os.pathsep)

    result = doctor.check_node()

    assert result.status == status
    if status != "ok":
        assert result.fix is not None
        assert result.fix.startswith("make node (npm's Node 22.")
        assert result.fix.endswith("or install Node 22 LTS")


def test_cdk_cli_other_than_the_pin_fails_with_make_setup(tmp_path: Path) -> None:
    executable(tmp_path / "cdk", "echo '2.1000.0 (build 0000000)'")
    executable(tmp_path / "cdklocal", "exit 0")
    package_json = tmp_path / "package.json"
    package_json.write_text(json.dumps({"devDependencies": {"aws-cdk": "2.1148.1"}}))

    result = doctor.check_cdk(tmp_path, package_json)

    assert result.status == "fail"
    assert result.detail == "2.1000.0 installed, package.json pins 2.1148.1"
    assert result.fix is not None
    assert "make setup" in result.fix


def test_missing_cdk_cli_fails(tmp_path: Path) -> None:
    result = doctor.check_cdk(tmp_path / "node_modules" / ".bin")
    assert result.status == "fail"
    assert result.fix == "make setup (runs npm ci)"


@pytest.fixture
def fake_localstack(
    serve_http: Callable[[type[BaseHTTPRequestHandler]], int],
) -> dict[str, str]:
    """An HTTP server on a loopback port answering LocalStack's two status paths."""
    answers = {"version": LOCALSTACK_VERSION}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {
                "/_localstack/health": {
                    "services": {"s3": "running"},
                    "version": answers["version"],
                },
                "/_localstack/info": {"version": answers["version"], "edition": "community"},
            }.get(self.path)
            payload = json.dumps(body).encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    answers["url"] = f"http://127.0.0.1:{serve_http(Handler)}"
    return answers


def test_localstack_of_the_pinned_version_passes(fake_localstack: dict[str, str]) -> None:
    result = doctor.check_localstack(fake_localstack["url"])
    assert result.status == "ok"
    assert result.detail.startswith(LOCALSTACK_VERSION)


def test_localstack_of_another_version_warns(fake_localstack: dict[str, str]) -> None:
    fake_localstack["version"] = "3.8.1"
    result = doctor.check_localstack(fake_localstack["url"])
    assert result.status == "warn"
    assert "3.8.1" in result.detail


def test_localstack_not_running_warns_with_make_localstack_up(closed_port: int) -> None:
    result = doctor.check_localstack(f"http://127.0.0.1:{closed_port}")
    assert result.status == "warn"
    assert result.fix == "make localstack-up"


def test_port_held_by_a_stranger_fails_and_names_the_process(listening_port: int) -> None:
    result = doctor.check_port(listening_port, "Django", env={})
    assert result.status == "fail"
    assert f"pid {os.getpid()}" in result.detail
    assert result.fix is not None


def test_port_held_by_a_process_from_hangars_pid_files_passes(listening_port: int) -> None:
    result = doctor.check_port(listening_port, "Django", ours={os.getpid()}, env={})
    assert result.status == "ok"
    assert "held by Hangar's Django" in result.detail


def test_port_published_by_hangars_compose_project_passes(listening_port: int) -> None:
    assert (
        doctor.check_port(listening_port, "Django", compose_ports={listening_port}, env={}).status
        == "ok"
    )


def test_database_port_a_stranger_holds_only_warns(listening_port: int) -> None:
    assert doctor.check_port(listening_port, "PostgreSQL", taken="warn", env={}).status == "warn"
    database = {"DATABASE_URL": f"postgres://hangar:hangar@127.0.0.1:{listening_port}/hangar"}
    assert (
        doctor.check_port(listening_port, "PostgreSQL", taken="warn", env=database).status == "ok"
    )


def test_free_port_passes(closed_port: int) -> None:
    assert doctor.check_port(closed_port, "debugpy", env={}).status == "ok"


def test_no_aws_credentials_warns_without_calling_aws(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup either

    result = doctor.check_aws_credentials()

    assert result.status == "warn"
    assert result.fix is not None
    assert "aws configure" in result.fix


def test_disk_space_thresholds(tmp_path: Path) -> None:
    assert doctor.check_disk(tmp_path, fail_below=1 << 60, warn_below=1 << 61).status == "fail"
    assert doctor.check_disk(tmp_path, fail_below=0, warn_below=1 << 60).status == "warn"
    assert doctor.check_disk(tmp_path, fail_below=0, warn_below=0).status == "ok"


def test_doctor_prints_each_fix_and_exits_non_zero_on_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        doctor,
        "CHECKS",
        [
            lambda: CheckResult("python", "ok", "3.13.0"),
            lambda: [CheckResult("port 8000", "fail", "taken by pid 1", "stop it")],
            lambda: CheckResult("localstack", "warn", "not started", "make localstack-up"),
        ],
    )

    assert doctor.run(argparse.Namespace()) == 1

    out = capsys.readouterr().out
    assert "FAIL  port 8000" in out
    assert "fix: stop it" in out
    assert "fix: make localstack-up" in out
    assert "3 checks: 1 failed, 1 warning" in out


def test_doctor_exits_zero_with_warnings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        doctor,
        "CHECKS",
        [lambda: CheckResult("localstack", "warn", "not started", "make localstack-up")],
    )
    assert doctor.run(argparse.Namespace()) == 0


def test_skopeo_is_a_warning_with_the_install_command_when_missing(tmp_path: Path) -> None:
    missing = doctor.check_skopeo(str(tmp_path / "no-skopeo"))
    assert missing.status == "warn"
    assert "make deploy" in missing.detail
    assert missing.fix is not None
    assert "apt-get install skopeo" in missing.fix
    assert doctor.check_skopeo().status == "ok"  # installed here, as .ci/run installs it


@pytest.mark.parametrize(
    ("version_line", "status"),
    [("aws-cli/2.9.19 Python/3.11.2 Linux/6.1.0", "ok"), ("aws-cli/1.46.3 Python/3.13.0", "warn")],
    ids=["v2", "v1"],
)
def test_the_aws_cli_must_be_v2_and_a_missing_one_says_how_to_install_it(
    tmp_path: Path, version_line: str, status: str
) -> None:
    aws = executable(tmp_path / "aws", f"echo '{version_line}'")

    result = doctor.check_aws_cli(which=lambda name: str(aws))
    missing = doctor.check_aws_cli(which=lambda name: None)

    assert result.status == status
    assert (missing.status, missing.detail.split(" (")[0]) == (
        "warn",
        "the AWS CLI is not installed",
    )
    assert missing.fix is not None
    assert "apt-get install awscli" in missing.fix


def test_a_missing_session_manager_plugin_is_named_with_its_install_page() -> None:
    result = doctor.check_session_manager_plugin(which=lambda name: None)
    found = doctor.check_session_manager_plugin(which=lambda name: f"/usr/bin/{name}")

    assert result.status == "warn"
    assert result.fix is not None
    assert "install-plugin" in result.fix
    assert found == CheckResult("session manager plugin", "ok", "/usr/bin/session-manager-plugin")
