"""uv is pinned in the Makefile; the image build and the workflows must install the same version."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def makefile_uv_version() -> str:
    match = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "Makefile: UV_VERSION := <version> not found"
    return match.group(1)


def dockerfile_uv_version(text: str) -> str:
    match = re.search(r"^ARG UV_VERSION=(\S+)$", text, re.MULTILINE)
    assert match, "Dockerfile: ARG UV_VERSION=<version> not found"
    return match.group(1)


def test_dockerfile_installs_the_makefiles_uv() -> None:
    assert dockerfile_uv_version((ROOT / "Dockerfile").read_text()) == makefile_uv_version()


def test_the_check_rejects_a_dockerfile_on_another_uv() -> None:
    drifted = (
        (ROOT / "Dockerfile")
        .read_text()
        .replace(f"ARG UV_VERSION={makefile_uv_version()}", "ARG UV_VERSION=0.0.1")
    )
    assert dockerfile_uv_version(drifted) != makefile_uv_version()


def test_workflows_install_the_makefiles_uv() -> None:
    for path in sorted((ROOT / ".github/workflows").glob("*.yml")):
        pinned = yaml.safe_load(path.read_text()).get("env", {}).get("UV_VERSION")
        if pinned is not None:
            assert pinned == makefile_uv_version(), f"{path.name}: UV_VERSION {pinned}"
