"""The host-mode lock, and the stamp that decides whether the venv must be re-synced."""

import re
from pathlib import Path

import pytest

from hangar.core.errors import HangarError
from hangar.core.paths import LOCALSTACK_LOCK
from hangar.core.versions import LOCALSTACK_VERSION
from hangar.localstack import host as localstack_host
from hangar.localstack.host import STAMP_NAME, ensure_venv, lock_digest, venv_is_current

REQUIREMENTS_IN = LOCALSTACK_LOCK.with_name("requirements.in")


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def test_lock_pins_every_direct_requirement_at_its_version():
    wanted = _pins(REQUIREMENTS_IN.read_text())
    locked = _pins(LOCALSTACK_LOCK.read_text())
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
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCALSTACK_LOCK.read_text().split("\n", 2)[2])
    packages = [entry for entry in entries if "==" in entry]
    assert len(packages) > 50
    assert [entry.split()[0] for entry in packages if "--hash=sha256:" not in entry] == []


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
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


def _fake_python(venv: Path, exit_code: int) -> Path:
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    python.chmod(0o755)
    return python


def test_a_provided_venv_is_used_as_it_is(tmp_path, monkeypatch):
    python = _fake_python(tmp_path / "baked", exit_code=0)
    monkeypatch.setenv("HANGAR_LOCALSTACK_VENV", str(tmp_path / "baked"))
    monkeypatch.setattr(localstack_host, "ensure_venv", lambda: pytest.fail("must not install"))

    assert localstack_host.runtime_python() == python


def test_a_provided_venv_without_the_runtime_is_refused_in_one_line(tmp_path, monkeypatch):
    _fake_python(tmp_path / "broken", exit_code=1)  # `import localstack.runtime.main` fails
    monkeypatch.setenv("HANGAR_LOCALSTACK_VENV", str(tmp_path / "broken"))
    monkeypatch.setattr(localstack_host, "ensure_venv", lambda: pytest.fail("must not install"))

    with pytest.raises(HangarError, match=r"HANGAR_LOCALSTACK_VENV=.*holds no LocalStack runtime"):
        localstack_host.runtime_python()


def test_without_a_provided_venv_the_checkouts_venv_is_installed(monkeypatch, tmp_path):
    monkeypatch.delenv("HANGAR_LOCALSTACK_VENV", raising=False)
    monkeypatch.setattr(localstack_host, "ensure_venv", lambda: tmp_path / "installed")

    assert localstack_host.runtime_python() == tmp_path / "installed"
