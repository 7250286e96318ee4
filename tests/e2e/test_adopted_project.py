"""The sample is a tenant: Hangar's own repository with a project written elsewhere in its place.

A copy of this checkout (tests/e2e/checkout_copy.py), committed as it is, gets MDN's LocalLibrary
(tests/fixtures/locallibrary, SOURCE.md says from where and what its move changed) in place of
the sample and a `[tool.hangar]` of its own (no bucket, queue or worker), by docs/adopting.md's
steps. There Hangar's `make test-unit` (with the project's own tests, collected from the contract)
and `make test-infra` pass, none skipped: the platform's tests hold for whichever project the
contract names. Then git shows that nothing outside the project's folder and `[tool.hangar]`
changed.

What the project does under the platform's commands (`make dev`, deploy-local, run-task, its own
tests, `make lint`) is shown where a team runs them, in a repository of its own:
test_locallibrary_in_place.py. The minimal fixture (tests/fixtures/minimal_project) keeps the
cheap check: its settings meet docs/adopting.md section 3 without Docker
(tests/unit/test_minimal_project.py).
"""

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from checkout_copy import Checkout, make_copy, project_of
from local_library import FIXTURE, SETTINGS_MODULE, WSGI_APPLICATION

from hangar.adopt.init import without_contract
from hangar.core.contract import contract
from hangar.core.paths import ROOT
from hangar.core.ports import spare_port

pytestmark = pytest.mark.e2e

SERVICE = "library"
PROJECT_DIR = "library"
LAYERS = ("test-unit", "test-infra")


def library_contract() -> str:
    """`[tool.hangar]` for LocalLibrary: what docs/adopting.md section 2 asks, nothing more."""
    return f"""[tool.hangar]
service-name = "{SERVICE}"
image-platform = "{contract().image_platform}"
project-dir = "{PROJECT_DIR}"
settings-module = "{SETTINGS_MODULE}"
wsgi-application = "{WSGI_APPLICATION}"
health-path = "/healthz"
readiness-path = "/readyz"
container-port = 8000
"""


def git(copy: Path, *args: str) -> str:
    identity = ("-c", "user.name=adopter", "-c", "user.email=adopter@example.com")
    return subprocess.run(
        ["git", *identity, *args], cwd=copy, capture_output=True, text=True, check=True
    ).stdout


def changed_outside_the_project(copy: Path) -> list[str]:
    """What changed since the commit before the move, besides the project's folder (and the
    sample's, which the move deletes) and pyproject's `[tool.hangar]`."""
    status = git(copy, "status", "--porcelain", "--untracked-files=all", "--no-renames")
    paths = [line[3:] for line in status.splitlines()]
    outside = [
        p for p in paths if not p.startswith((f"{PROJECT_DIR}/", f"{contract().project_dir}/"))
    ]
    if "pyproject.toml" in outside:
        before = git(copy, "show", "HEAD:pyproject.toml")
        if without_contract(before) == without_contract((copy / "pyproject.toml").read_text()):
            outside.remove("pyproject.toml")
    return outside


def move_in(checkout: Checkout) -> None:
    """docs/adopting.md sections 1 and 2: the sample out, the project in, the contract written by
    `hangar init` (the sample's replaced: --force), which finds what library_contract() names."""
    shutil.rmtree(checkout.root / contract().project_dir)
    shutil.copytree(
        FIXTURE, checkout.root / PROJECT_DIR, ignore=shutil.ignore_patterns("SOURCE.md")
    )
    # The copy holds other manage.py files (the fixtures'): the project's folder is named.
    checkout.ok("init", "--project-dir", PROJECT_DIR, "--service-name", SERVICE, "--force")
    written = tomllib.loads((checkout.root / "pyproject.toml").read_text())["tool"]["hangar"]
    assert written == tomllib.loads(library_contract())["tool"]["hangar"]


@pytest.fixture(scope="module")
def adopted(
    provisioned: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Checkout]:
    """The copy, committed before the move, with LocalLibrary moved in; removed after."""
    checkout = Checkout(
        tmp_path_factory.mktemp("adopted") / "repo", spare_port(), spare_port(), spare_port()
    )
    make_copy(checkout.root)
    # The environments the copy links to are this checkout's, not the copy's own files.
    (checkout.root / ".git" / "info" / "exclude").write_text("/.venv\n/node_modules\n")
    git(checkout.root, "add", "--all")
    git(checkout.root, "commit", "--quiet", "--message", "before the move")
    move_in(checkout)
    checkout.project = project_of(checkout)
    try:
        yield checkout
    finally:
        checkout.remove_everything()
        assert not checkout.leftovers(), f"left behind: {checkout.leftovers()}"


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str
    seconds: float


@pytest.fixture(scope="module")
def layers(adopted: Checkout) -> dict[str, Finished]:
    """Hangar's `make test-unit` and `make test-infra` in the copy, one after the other."""
    env = adopted.env()
    # Its README's step before its tests: they render pages through the manifest storage.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=adopted.root / PROJECT_DIR,
        env=env,
        capture_output=True,
        check=True,
    )
    # The copy shares this checkout's environments (checkout_copy.py): `make setup` there is done
    # (its stamp), and no `uv run` may sync them to the copy's folder, which is removed after.
    (adopted.root / ".hangar" / "setup.stamp").touch()
    tools = ROOT / ".hangar" / "tools" / "bin"
    platform = adopted.env(PATH=f"{tools}{os.pathsep}{os.environ['PATH']}", UV_NO_SYNC="1")
    platform["PYTEST_ADDOPTS"] = "-rA"  # every passed test by its id: the project's are counted
    finished = {}
    for target in LAYERS:
        began = time.monotonic()
        ran = subprocess.run(
            ["make", "--no-print-directory", target],
            cwd=adopted.root,
            env=platform,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        finished[target] = Finished(ran.returncode, ran.stdout, time.monotonic() - began)
    return finished


def test_hangars_unit_and_infra_layers_pass_against_its_contract(
    layers: dict[str, Finished],
) -> None:
    """Hangar's platform tests hold for this project as they do for the sample, and none skips;
    the project's own 40 tests run among them."""
    for target, finished in layers.items():
        print(f"adopted: make {target} {finished.seconds:.0f}s")
        assert finished.returncode == 0, f"make {target} failed:\n{finished.output[-8000:]}"
        assert not re.search(r"\b\d+ skipped\b", finished.output), finished.output[-3000:]
    own = re.findall(rf"^PASSED {PROJECT_DIR}/catalog/tests/\S+", layers["test-unit"].output, re.M)
    assert len(own) == 40, layers["test-unit"].output[-3000:]


def test_nothing_changed_outside_the_project_and_the_contract(
    adopted: Checkout, layers: dict[str, Finished]
) -> None:
    """Checked once the layers have run in the copy: what they write (cdk.out, coverage's data,
    a process's own file too when pytest-cov left one uncombined, as CI's run once did) is what
    the .gitignore keeps out (hangar.adopt.init.IGNORED)."""
    assert changed_outside_the_project(adopted.root) == []
    # The check sees a platform edit, in a file or in another table of pyproject.toml.
    compose = adopted.root / "compose.yaml"
    pyproject = adopted.root / "pyproject.toml"
    original_compose, original_pyproject = compose.read_text(), pyproject.read_text()
    try:
        compose.write_text(original_compose + "# edited\n")
        pyproject.write_text(
            original_pyproject.replace("[tool.ruff]", "[tool.ruff]\nfix = true", 1)
        )
        assert changed_outside_the_project(adopted.root) == ["compose.yaml", "pyproject.toml"]
    finally:
        compose.write_text(original_compose)
        pyproject.write_text(original_pyproject)
