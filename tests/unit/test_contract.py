"""`[tool.hangar]`: the checkout's own contract loads, and every bad entry is refused by name."""

import re
from pathlib import Path

import pytest
from declared_project import DECLARING_EVERYTHING

from hangar.core.contract import ContractError, contract, load, project_pyproject

# `[tool.hangar]` with only what every project must write: no bucket, queue, worker, upload path
# or stage environment.
MINIMAL = """\
[tool.hangar]
service-name = "notes"
image-platform = "linux/amd64"
project-dir = "site"
settings-module = "site.settings"
wsgi-application = "site.wsgi:application"
health-path = "/healthz"
readiness-path = "/readyz"
container-port = 8000
"""


def write(tmp_path: Path, **changes: str | None) -> Path:
    """The declaring project's contract (tests/declared_project.py) with entries replaced (None:
    removed)."""
    text = DECLARING_EVERYTHING.read_text()
    for key, value in changes.items():
        key = key.replace("_", "-")
        line = re.compile(rf"^{re.escape(key)} = .*$", re.M)
        assert line.search(text), key
        text = line.sub("" if value is None else f"{key} = {value}", text)
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return path


def minimal(tmp_path: Path, tables: str = "") -> Path:
    """A pyproject with the minimal contract, then `tables` (TOML appended)."""
    path = tmp_path / "pyproject.toml"
    path.write_text(MINIMAL + tables)
    return path


def test_the_checkouts_contract_loads_and_locates_its_project() -> None:
    checkout = contract()
    assert (checkout.project_path / "manage.py").is_file()
    # Each declared resource's variable reaches the app from a stack output of its own.
    declared = [variable for r in (*checkout.buckets, *checkout.queues) for variable in r.outputs]
    assert sorted(checkout.env_from_outputs) == sorted(declared)


def test_a_minimal_contract_declares_nothing(tmp_path: Path) -> None:
    notes = load(minimal(tmp_path))
    assert (notes.buckets, notes.queues, notes.upload_paths) == ((), (), ())
    assert notes.capacity_path is None
    assert notes.worker_command is None
    assert notes.env_from_outputs == {}
    assert notes.stage_env == {}
    assert notes.costs_file is None


def test_a_declared_costs_file_is_where_make_costs_writes(tmp_path: Path) -> None:
    assert load(minimal(tmp_path, 'costs-file = "docs/costs.md"\n')).costs_file == "docs/costs.md"


def test_every_declared_resource_gets_its_own_outputs_and_workers(tmp_path: Path) -> None:
    app = load(
        minimal(
            tmp_path,
            """
[tool.hangar.buckets.user-files]
env = "USER_FILES_BUCKET"
[tool.hangar.queues.jobs]
env = "JOBS_QUEUE_URL"
worker-command = ["python", "manage.py", "run_jobs"]
[tool.hangar.queues.emails]
env = "EMAIL_QUEUE_URL"
dlq-env = "EMAIL_DLQ_URL"
worker-command = ["python", "manage.py", "send_emails"]
[tool.hangar.queues.audit]
env = "AUDIT_QUEUE_URL"
[tool.hangar.env.prod]
FEATURE_FLAGS = "billing"
""",
        )
    )
    assert app.env_from_outputs == {
        "USER_FILES_BUCKET": "UserFilesBucketName",
        "JOBS_QUEUE_URL": "JobsQueueUrl",
        "EMAIL_QUEUE_URL": "EmailsQueueUrl",
        "EMAIL_DLQ_URL": "EmailsDlqUrl",
        "AUDIT_QUEUE_URL": "AuditQueueUrl",
    }
    assert [queue.name for queue in app.worker_queues] == ["jobs", "emails"]
    assert [queue.worker_output for queue in app.worker_queues] == [
        "JobsWorkerServiceName",
        "EmailsWorkerServiceName",
    ]
    assert app.worker_command == ("python", "manage.py", "run_jobs")  # the first, for `make dev`
    assert app.stage_env == {"prod": {"FEATURE_FLAGS": "billing"}}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"service_name": '"Hangar"'}, "service-name"),
        ({"service_name": '"my--app"'}, "service-name"),
        ({"service_name": '"a-very-long-service-name"'}, "service-name"),
        ({"service_name": None}, "service-name"),
        ({"image_platform": '"linux/386"'}, "image-platform"),
        ({"project_dir": '"../elsewhere"'}, "project-dir"),
        ({"settings_module": '"site/settings.py"'}, "settings-module"),
        ({"wsgi_application": '"site.wsgi"'}, "wsgi-application"),
        ({"health_path": '"healthz"'}, "health-path"),
        ({"readiness_path": '"/readyz?full=1"'}, "readiness-path"),
        ({"container_port": "80"}, "container-port"),
        ({"container_port": '"8000"'}, "container-port"),
        ({"capacity_path": '"attachments/"'}, "capacity-path"),
        ({"upload_paths": '"/attachments/"'}, "upload-paths"),
        ({"upload_paths": '["attachments/"]'}, "upload-paths"),
        ({"upload_paths": '["/attachments/*"]'}, "upload-paths"),
        (
            {"worker_command": '"python manage.py run_jobs"'},
            "[tool.hangar.queues.jobs] worker-command",
        ),
        ({"worker_command": "[]"}, "[tool.hangar.queues.jobs] worker-command"),
        ({"env": '"attachments_bucket"'}, "[tool.hangar.buckets.attachments] env"),
        ({"dlq_env": "1"}, "[tool.hangar.queues.jobs] dlq-env"),
    ],
)
def test_a_bad_entry_is_refused_naming_it(
    tmp_path: Path, changes: dict[str, str | None], named: str
) -> None:
    with pytest.raises(ContractError, match=re.escape(named)) as error:
        load(write(tmp_path, **changes))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("tables", "named"),
    [
        (
            'worker-command = ["python", "manage.py", "run_jobs"]\n',
            "worker-command is no longer read",
        ),
        ('[tool.hangar.settings-from-outputs]\nA = "B"\n', "settings-from-outputs is no longer"),
        ('[tool.hangar.buckets.Uploads]\nenv = "A"\n', "[tool.hangar.buckets.Uploads]"),
        ('[tool.hangar.queues.jobs-1]\nenv = "A"\n', "[tool.hangar.queues.jobs-1]"),
        ('[tool.hangar.buckets.files]\nname = "x"\n', "unknown key 'name'"),
        ('[tool.hangar.buckets.access-logs]\nenv = "A"\n', "access-logs] collides"),
        ('[tool.hangar.queues.jobs-dead-letters]\nenv = "A"\n', "jobs-dead-letters] collides"),
        ("[tool.hangar.buckets.files]\n", "[tool.hangar.buckets.files] env"),
        ('[tool.hangar.queues.jobs]\nenv = "A"\nworker = ["x"]\n', "unknown key 'worker'"),
        ("buckets = 1\n", "[tool.hangar.buckets] must hold one table"),
        (
            '[tool.hangar.buckets.a]\nenv = "SAME"\n[tool.hangar.queues.b]\nenv = "SAME"\n',
            "two declared resources give the app SAME",
        ),
        (
            '[tool.hangar.queues.b]\nenv = "B_URL"\ndlq-env = "B_URL"\n',
            "two declared resources give the app B_URL",
        ),
        ('[tool.hangar.env.prod]\nfeature = "x"\n', "[tool.hangar.env.prod]"),
        ("[tool.hangar.env.prod]\nDEBUG = 1\n", "[tool.hangar.env.prod]"),
        (
            '[tool.hangar.queues.b]\nenv = "B_URL"\n[tool.hangar.env.dev]\nB_URL = "x"\n',
            "[tool.hangar.env.dev] sets B_URL, which a declared bucket or queue",
        ),
        ('costs-file = "/etc/costs.md"\n', "costs-file = '/etc/costs.md' is invalid"),
        ('costs-file = "costs.txt"\n', "costs-file = 'costs.txt' is invalid"),
        ('costs-file = "../costs.md"\n', "costs-file = '../costs.md' leaves the repository"),
    ],
)
def test_a_bad_declaration_is_refused_naming_it(tmp_path: Path, tables: str, named: str) -> None:
    """`tables` follows the minimal contract's last key: its own keys before a header are
    `[tool.hangar]`'s."""
    with pytest.raises(ContractError, match=re.escape(named)) as error:
        load(minimal(tmp_path, tables))
    assert "\n" not in str(error.value)


def test_a_project_without_the_table_is_pointed_to_the_guide(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    with pytest.raises(ContractError, match="adopting"):
        load(path)


def test_stack_names_derive_from_the_service_name(tmp_path: Path) -> None:
    renamed = load(write(tmp_path, service_name='"notes"'))
    assert renamed.stack_names("dev") == ("notes-dev-registry", "notes-dev-service")


class TestTheProjectsPyproject:
    """Whose [tool.hangar] a command reads: the project it runs in, wherever hangar is installed."""

    TABLE = '[tool.hangar]\nservice-name = "shop"\n'

    def test_the_nearest_with_the_table_from_the_working_directory_up(self, tmp_path: Path) -> None:
        (tmp_path / "pyproject.toml").write_text(self.TABLE)
        platform = tmp_path / "scripts"  # a pyproject without the table: the platform's own
        (platform / "hangar").mkdir(parents=True)
        (platform / "pyproject.toml").write_text('[project]\nname = "hangar"\n')
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        found = project_pyproject(platform / "hangar", source_checkout=elsewhere)
        assert found == tmp_path / "pyproject.toml"

    def test_the_source_checkout_when_no_folder_up_has_it(self, tmp_path: Path) -> None:
        checkout, outside = tmp_path / "checkout", tmp_path / "outside"
        checkout.mkdir()
        outside.mkdir()
        (checkout / "pyproject.toml").write_text(self.TABLE)
        found = project_pyproject(outside, source_checkout=checkout)
        assert found == checkout / "pyproject.toml"

    def test_where_none_has_it_the_nearest_pyproject_whose_table_load_asks_for(
        self, tmp_path: Path
    ) -> None:
        (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n')
        (tmp_path / "sub").mkdir()
        found = project_pyproject(tmp_path / "sub", source_checkout=tmp_path / "site-packages")
        assert found == tmp_path / "pyproject.toml"
        with pytest.raises(ContractError, match=r"has no \[tool.hangar\] table"):
            load(found)

    def test_where_there_is_no_pyproject_the_working_directorys_which_load_names(
        self, tmp_path: Path
    ) -> None:
        found = project_pyproject(tmp_path, source_checkout=tmp_path / "site-packages")
        assert found == tmp_path / "pyproject.toml"
        with pytest.raises(ContractError, match=re.escape(f"cannot read {found}")):
            load(found)
