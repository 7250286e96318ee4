"""hangar.deploy.image: the archive CI hands over, the push by digest, and what either refuses.

The registry here is a real OCI layout written by a real skopeo (the stand-in `local` uses for
ECR); the images are minimal but valid OCI images (a config and a manifest, no layers), so one can
be made for any platform without a build or an emulator.
"""

import argparse
import dataclasses
import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.deploy import image, stage_cdk
from hangar.deploy import stage as deploy

TAG = "0123456789abcdef0123456789abcdef01234567"


def _blob(layout: Path, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(content)
    return f"sha256:{digest}"


def oci_archive(tmp_path: Path, platform: str, name: str = "image") -> Path:
    """An OCI archive of one image for `platform` (os/architecture)."""
    os_name, architecture = platform.split("/")
    layout = tmp_path / f"{name}-layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = json.dumps(
        {
            "architecture": architecture,
            "os": os_name,
            "config": {"Labels": {"made-by": name}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _blob(layout, config),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _blob(layout, manifest),
                "size": len(manifest),
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    archive = tmp_path / f"{name}.oci.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(layout)), recursive=False)
    return archive


@pytest.fixture
def registry(tmp_path: Path) -> image.Registry:
    # Nested like the local stage's .hangar/registry/hangar-local, in folders that do not exist yet.
    return image.Registry("oci:", str(tmp_path / "registry" / "hangar-local"))


def test_the_platform_is_the_project_setting() -> None:
    assert image.image_platform() == "linux/amd64"


def test_every_runtime_build_passes_the_contracts_build_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notes = dataclasses.replace(
        contract(),
        project_dir="notes_site",
        settings_module="notes_site.settings",
        wsgi_application="notes_site.wsgi:application",
        container_port=8081,
        health_path="/ping",
    )
    monkeypatch.setattr(image, "contract", lambda: notes)
    options = image.runtime_build_options()
    assert options[:3] == ["--platform", "linux/amd64", "--target=runtime"]
    assert {
        "--build-arg=PROJECT_DIR=notes_site",
        "--build-arg=SETTINGS_MODULE=notes_site.settings",
        "--build-arg=WSGI_APPLICATION=notes_site.wsgi:application",
        "--build-arg=CONTAINER_PORT=8081",
        "--build-arg=HEALTH_PATH=/ping",
    } <= set(options)


def test_the_dockerfile_declares_each_build_argument_the_contract_passes() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile[dockerfile.index("AS runtime") :]
    for name in contract().build_args():
        assert f"ARG {name}\n" in runtime, name
        assert f"${{{name}}}" in runtime, f"{name} is declared but not used"


def test_an_archive_names_its_manifest_digest_and_platform(tmp_path: Path) -> None:
    archive = image.read_archive(oci_archive(tmp_path, "linux/arm64"))
    assert archive.platform == "linux/arm64"
    assert archive.digest.startswith("sha256:")
    assert archive.image_id.startswith("sha256:")
    assert archive.image_id != archive.digest


def test_a_missing_archive_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(HangarError, match="does not exist"):
        image.read_archive(tmp_path / "nothing.tar")


def test_the_push_preserves_the_digest_and_a_second_push_reuses_the_tag(
    tmp_path: Path, registry: image.Registry
) -> None:
    archive = image.read_archive(oci_archive(tmp_path, "linux/amd64"))
    assert image.publish(registry, TAG, None, lambda: archive) == archive.digest
    assert image.remote_image(registry, TAG) == image.RemoteImage(archive.digest, "linux/amd64")
    # Tags are immutable: a second deploy of the commit (a rollback) neither builds nor pushes,
    # and a tag holding the very image CI scanned is reused as it is.
    assert image.publish(registry, TAG, None, pytest.fail) == archive.digest
    assert image.publish(registry, TAG, archive, pytest.fail) == archive.digest


def push_by_hand(tmp_path: Path, registry: image.Registry, tag: str, name: str) -> str:
    """An image someone pushed under `tag` outside the deploy (another build, never scanned)."""
    Path(registry.repository).parent.mkdir(parents=True, exist_ok=True)
    archive = oci_archive(tmp_path, "linux/amd64", name=name)
    image.skopeo(None, "copy", "--quiet", f"oci-archive:{archive}", registry.reference(tag))
    pushed = image.remote_image(registry, tag)
    assert pushed is not None
    return pushed.digest


def test_an_unscanned_image_under_the_commits_tag_never_ships(
    tmp_path: Path, registry: image.Registry
) -> None:
    unscanned = push_by_hand(tmp_path, registry, TAG, "unscanned")
    scanned = image.read_archive(oci_archive(tmp_path, "linux/amd64", name="scanned"))
    assert scanned.digest != unscanned

    shipped = image.publish(registry, TAG, scanned, pytest.fail)

    # The scanned archive ships, pushed beside the tag under its own digest; the tag is untouched.
    assert shipped == scanned.digest
    aside = f"{TAG}-{scanned.digest.removeprefix('sha256:')[:12]}"
    assert image.remote_image(registry, aside) == image.RemoteImage(scanned.digest, "linux/amd64")
    assert image.remote_image(registry, TAG) == image.RemoteImage(unscanned, "linux/amd64")
    # The same archive again (a re-run of the deploy job) finds it there.
    assert image.publish(registry, TAG, scanned, pytest.fail) == scanned.digest


def test_an_unscanned_image_squatting_the_scanned_archives_tag_is_refused(
    tmp_path: Path, registry: image.Registry
) -> None:
    push_by_hand(tmp_path, registry, TAG, "unscanned")
    scanned = image.read_archive(oci_archive(tmp_path, "linux/amd64", name="scanned"))
    aside = f"{TAG}-{scanned.digest.removeprefix('sha256:')[:12]}"
    squatter = push_by_hand(tmp_path, registry, aside, "squatter")

    with pytest.raises(HangarError, match=r"refusing to deploy an image nobody scanned"):
        image.publish(registry, TAG, scanned, pytest.fail)
    assert image.remote_image(registry, aside) == image.RemoteImage(squatter, "linux/amd64")


def test_a_tag_holding_another_platform_is_refused_and_nothing_is_pushed(
    tmp_path: Path, registry: image.Registry
) -> None:
    arm = oci_archive(tmp_path, "linux/arm64", name="arm")
    Path(registry.repository).parent.mkdir(parents=True)
    image.skopeo(None, "copy", "--quiet", f"oci-archive:{arm}", registry.reference(TAG))
    before = image.remote_image(registry, TAG)
    amd = image.read_archive(oci_archive(tmp_path, "linux/amd64", name="amd"))
    with pytest.raises(HangarError, match=r"is for linux/arm64.*nothing was pushed"):
        image.publish(registry, TAG, amd, pytest.fail)
    assert image.remote_image(registry, TAG) == before


def test_an_archive_for_another_platform_is_never_pushed(
    tmp_path: Path, registry: image.Registry
) -> None:
    arm = image.read_archive(oci_archive(tmp_path, "linux/arm64"))
    with pytest.raises(HangarError, match="is for linux/arm64, but the tasks run linux/amd64"):
        image.publish(registry, TAG, None, lambda: arm)
    assert image.remote_image(registry, TAG) is None


def test_an_archive_is_deployed_only_with_the_scan_report_of_that_image(tmp_path: Path) -> None:
    archive = image.read_archive(oci_archive(tmp_path, "linux/amd64"))
    report = tmp_path / "trivy-report.json"
    with pytest.raises(HangarError, match="no Trivy scan result"):
        image.check_scan_report(archive, report)
    with pytest.raises(HangarError, match="no Trivy scan result"):
        image.check_scan_report(archive, None)
    report.write_text(json.dumps({"Metadata": {"ImageID": "sha256:" + "0" * 64}}))
    with pytest.raises(HangarError, match="not the archive's"):
        image.check_scan_report(archive, report)
    report.write_text(json.dumps({"Metadata": {"ImageID": archive.image_id}}))
    image.check_scan_report(archive, report)


def test_skopeo_reads_the_digest_the_archive_declares(tmp_path: Path) -> None:
    path = oci_archive(tmp_path, "linux/amd64")
    described = subprocess.run(
        ["skopeo", "inspect", "--no-tags", f"oci-archive:{path}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(described.stdout)["Digest"] == image.read_archive(path).digest


@pytest.mark.parametrize("scan_report", [None, "missing.json"])
def test_make_deploy_refuses_ci_s_archive_without_its_scan_report_before_touching_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan_report: str | None
) -> None:
    for variable in ("IMAGE_TAG", "LOCALSTACK_ENDPOINT", "SCAN_REPORT", "IMAGE_ARCHIVE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(stage_cdk, "cdk_synth", pytest.fail)
    monkeypatch.setattr(deploy, "check_commit_matches", pytest.fail)
    argv = ["deploy", "--stage", "staging", "--image-tag", TAG]
    argv += ["--image-archive", str(oci_archive(tmp_path, "linux/amd64"))]
    if scan_report:
        argv += ["--scan-report", str(tmp_path / scan_report)]
    parser = argparse.ArgumentParser(prog="hangar")
    deploy.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    with pytest.raises(HangarError, match="no Trivy scan result"):
        args.func(args)
