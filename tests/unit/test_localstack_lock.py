"""The host-mode lock, and the stamp that decides whether the venv must be re-synced."""

import re
from pathlib import Path

import pytest

from hangar.core.versions import LOCALSTACK_VERSION
from hangar.localstack import host as localstack_host
from hangar.localstack.host import LOCK_FILE, STAMP_NAME, ensure_venv, lock_digest, venv_is_current

REQUIREMENTS_IN = LOCK_FILE.with_name("requirements.in")


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def test_lock_pins_every_direct_requirement_at_its_version():
    wanted = _pins(REQUIREMENTS_IN.read_text())
    locked = _pins(LOCK_FILE.read_text())
    assert wanted == {
        "localstack-core": LOCALSTACK_VERSION,
        "cbor2": "5.8.0",
        "pyopenssl": "26.0.0",
        "cryptography": "46.0.7",
        "localstack-twisted": "25.5.0",
    }
    assert {name: locked.get(name) for name in wanted} == wanted


def test_every_locked_package_carries_a_hash():
    # `uv pip sync --require-hashes` refuses a lock with an unhashed entry: catch it here first.
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK_FILE.read_text().split("\n", 2)[2])
    packages = [entry for entry in entries if "==" in entry]
    assert len(packages) > 50
    assert [entry.split()[0] for entry in packages if "--hash=sha256:" not in entry] == []


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text("cbor2==5.8.0 \\\n    --hash=sha256:00\n")
    return path


def _installed_venv(tmp_path: Path, stamp: str | None) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    if stamp is not None:
        (venv / STAMP_NAME).write_text(stamp + "\n")
    return venv


def test_venv_synced_from_this_lock_is_current(tmp_path, lock):
    assert venv_is_current(_installed_venv(tmp_path, lock_digest(lock)), lock_digest(lock))


def test_changed_lock_makes_the_venv_stale(tmp_path, lock):
    venv = _installed_venv(tmp_path, lock_digest(lock))
    lock.write_text(lock.read_text().replace("5.8.0", "5.9.0"))
    assert not venv_is_current(venv, lock_digest(lock))


def test_interrupted_install_leaves_no_stamp_and_is_stale(tmp_path, lock):
    assert not venv_is_current(_installed_venv(tmp_path, stamp=None), lock_digest(lock))


def test_venv_without_python_is_stale(tmp_path, lock):
    venv = _installed_venv(tmp_path, lock_digest(lock))
    (venv / "bin" / "python").unlink()
    assert not venv_is_current(venv, lock_digest(lock))


def test_current_venv_is_not_reinstalled(tmp_path, lock, monkeypatch, capsys):
    venv = _installed_venv(tmp_path, lock_digest(lock))
    monkeypatch.setattr(localstack_host, "HOME", tmp_path / "state")  # where install.lock would go
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no uv reachable: an install would fail

    assert ensure_venv(venv, lock) == venv / "bin" / "python"
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "state").exists()
