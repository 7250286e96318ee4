"""`[tool.hangar]`: the checkout's own contract loads, and every bad entry is refused by name."""

import re
from pathlib import Path

import pytest

from hangar.core.contract import PYPROJECT, ContractError, contract, load


def write(tmp_path: Path, **changes: str | None) -> Path:
    """The checkout's pyproject.toml with `[tool.hangar]` entries replaced (None: removed)."""
    text = PYPROJECT.read_text()
    for key, value in changes.items():
        key = key.replace("_", "-")
        line = re.compile(rf"^{re.escape(key)} = .*$", re.M)
        assert line.search(text), key
        text = line.sub("" if value is None else f"{key} = {value}", text)
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return path


def test_the_checkouts_contract_describes_the_sample_project() -> None:
    sample = contract()
    assert sample.service_name == "hangar"
    assert (sample.project_path / "manage.py").is_file()
    assert sample.worker_command == ("python", "manage.py", "worker")
    assert set(sample.settings_from_outputs) >= {"DOCUMENTS_BUCKET", "TASKS_QUEUE_URL"}


def test_an_app_without_a_worker_leaves_the_command_out(tmp_path: Path) -> None:
    assert load(write(tmp_path, worker_command=None)).worker_command is None


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"service_name": '"Hangar"'}, "service-name"),
        ({"service_name": '"my--app"'}, "service-name"),
        ({"service_name": '"a-very-long-service-name"'}, "service-name"),
        ({"service_name": None}, "service-name"),
        ({"image_platform": '"linux/386"'}, "image-platform"),
        ({"project_dir": '"../elsewhere"'}, "project-dir"),
        ({"settings_module": '"config/settings.py"'}, "settings-module"),
        ({"wsgi_application": '"config.wsgi"'}, "wsgi-application"),
        ({"worker_command": '"python manage.py worker"'}, "worker-command"),
        ({"health_path": '"healthz"'}, "health-path"),
        ({"readiness_path": '"/readyz?full=1"'}, "readiness-path"),
        ({"container_port": "80"}, "container-port"),
        ({"container_port": '"8000"'}, "container-port"),
    ],
)
def test_a_bad_entry_is_refused_naming_it(
    tmp_path: Path, changes: dict[str, str | None], named: str
) -> None:
    with pytest.raises(ContractError, match=re.escape(named)):
        load(write(tmp_path, **changes))


def test_settings_must_map_variable_names_to_outputs(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace("DOCUMENTS_BUCKET =", "documents_bucket ="))
    with pytest.raises(ContractError, match="settings-from-outputs"):
        load(path)


def test_a_project_without_the_table_is_pointed_to_the_guide(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    with pytest.raises(ContractError, match="adopting"):
        load(path)


def test_stack_names_derive_from_the_service_name(tmp_path: Path) -> None:
    renamed = load(write(tmp_path, service_name='"notes"'))
    assert renamed.stack_names("dev") == ("notes-dev-registry", "notes-dev-service")
