"""The contract between the platform and the Django project it ships: pyproject's `[tool.hangar]`.

Everything Hangar knows about the app comes from here: the CLI reads it, the Dockerfile gets it as
build arguments, compose through `.hangar/compose.env`, and the CDK app (hangar_infra) through the
same `contract()`. A team moving its own project in edits this table and nothing else
(docs/adopting.md). This module imports only the standard library, so every layer may use it.
"""

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path


def project_pyproject(start: Path, source_checkout: Path) -> Path:
    """The adopting project's pyproject.toml: the nearest, from `start` up, with a [tool.hangar]
    table (the platform's own pyproject has none); else that of `source_checkout`, the checkout
    this package runs from as source (the dev image's PYTHONPATH, whatever its working
    directory). Where none has the table, the first that exists (`load()` says the table is
    missing), else the one `start` would have (`load()` names the file to write)."""
    candidates = [folder / "pyproject.toml" for folder in (start, *start.parents, source_checkout)]
    existing = [candidate for candidate in candidates if candidate.is_file()]
    for candidate in existing:
        try:
            if "hangar" in tomllib.loads(candidate.read_text()).get("tool", {}):
                return candidate
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return existing[0] if existing else candidates[0]


# From the working directory first, not this file's: the package may be installed anywhere (a
# wheel in site-packages), and every command acts on the project it runs in.
PYPROJECT = project_pyproject(Path.cwd().resolve(), Path(__file__).resolve().parents[3])
# Lowercase letters, digits and single hyphens, starting with a letter: valid in every AWS name it
# prefixes (S3 buckets, ECR repositories, RDS identifiers, ALB and target-group names). At most 16
# characters so that `<service>-<stage>-<suffix>` stays inside the 32-character ELB name limit.
SERVICE_NAME_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,15}$")
SERVICE_NAME_FORM = "use 1-16 lowercase letters, digits and single hyphens, starting with a letter"
MODULE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
WSGI_PATTERN = re.compile(MODULE_PATTERN.pattern[:-1] + r":[A-Za-z_][A-Za-z0-9_]*$")
ENV_NAME_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
# A declared bucket's or queue's name: lowercase words joined by single hyphens, each starting
# with a letter, so that its CamelCase form (Resource.id) is a distinct CloudFormation id.
RESOURCE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*$")
STAGE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
FARGATE_PLATFORMS = ("linux/amd64", "linux/arm64")
# Environment variable names as the app reads them (the contract's settings use the same form).
SECRET_NAME_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
# Part of the schedule's AWS name `<service>-<stage>-<name>` (at most 64 characters for Scheduler).
SCHEDULE_NAME_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,31}$")
# EventBridge Scheduler's recurring expressions: cron() with its six fields (minutes hours
# day-of-month month day-of-week year), or rate() with a positive count and a unit.
CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#-]+$")
RATE_PATTERN = re.compile(
    r"^rate\((1 (minute|hour|day)|[1-9][0-9]+ (minutes|hours|days)|[2-9] (minutes|hours|days))\)$"
)
CRON_FORM = (
    "write cron(minutes hours day-of-month month day-of-week year) with ? in one of the two day "
    "fields, e.g. 'cron(0 3 * * ? *)' (UTC), or rate(1 hour), rate(15 minutes)"
)
SCHEDULE_KEYS = ("cron", "command")


class ContractError(ValueError):
    """A missing or invalid `[tool.hangar]` entry; the message names the key and what to write."""


@dataclass(frozen=True)
class Bucket:
    """`[tool.hangar.buckets.<name>]`: an S3 bucket whose name reaches the app as `env`."""

    name: str
    env: str

    @property
    def id(self) -> str:
        """The CamelCase name its constructs, outputs and alarms are named after."""
        return _camel(self.name)

    @property
    def outputs(self) -> dict[str, str]:
        """App environment variable → the service stack output holding its value."""
        return {self.env: f"{self.id}BucketName"}


@dataclass(frozen=True)
class Queue:
    """`[tool.hangar.queues.<name>]`: an SQS queue with its dead-letter queue, and the worker
    service that consumes it when the app names a command."""

    name: str
    env: str
    dlq_env: str | None = None
    worker_command: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        return _camel(self.name)

    @property
    def outputs(self) -> dict[str, str]:
        dlq = {self.dlq_env: f"{self.id}DlqUrl"} if self.dlq_env else {}
        return {self.env: f"{self.id}QueueUrl", **dlq}

    @property
    def worker_output(self) -> str:
        """The service stack output naming this queue's worker service (when it has one)."""
        return f"{self.id}WorkerServiceName"


def _camel(name: str) -> str:
    return "".join(word.capitalize() for word in name.split("-"))


@dataclass(frozen=True)
class Schedule:
    # `[tool.hangar.schedules.<name>]`: names the schedule, its task definition and `make schedule`.
    name: str
    # When it runs: an EventBridge Scheduler expression, cron(…) or rate(…), in UTC.
    cron: str
    # What it runs, in the project directory of the app's image, like the worker command.
    command: tuple[str, ...]


@dataclass(frozen=True)
class Bench:
    """`[tool.hangar.bench]`: what `make bench` needs of the app beyond the contract's paths."""

    # Run once in the runtime image against the bench's migrated database, before the load (the
    # rows capacity-path reads, a member); its last line, when it is `name=value`, is the Cookie
    # every load request sends (that member's session).
    seed_command: tuple[str, ...] | None = None
    # Where the outage measurement's clients upload a file (a multipart POST, field `file`, that
    # answers 201); without it that measurement is not made.
    upload_path: str | None = None


BENCH_KEYS = ("seed-command", "upload-path")


@dataclass(frozen=True)
class Contract:
    # Every AWS resource name derives from it (`<service>-<stage>-…`, `/<service>/<stage>/…`).
    service_name: str
    # The CPU platform the runtime image is built for and every task definition declares.
    image_platform: str
    # The Django project: the folder holding manage.py, relative to the repository root.
    project_dir: str
    settings_module: str
    # "module:callable", as gunicorn takes it.
    wsgi_application: str
    # Liveness (the container and load balancer health checks) and readiness (dependencies up).
    health_path: str
    readiness_path: str
    container_port: int
    # What the stack creates for the app, and nothing else: a project declaring none gets none.
    buckets: tuple[Bucket, ...] = ()
    queues: tuple[Queue, ...] = ()
    # URL paths whose request bodies are uploaded files: AWS WAF's body rules only count there.
    upload_paths: tuple[str, ...] = ()
    # The page `make bench` measured one web task's capacity on (capacity.json):
    # the web service scales on requests per task from that figure; None: on CPU alone.
    capacity_path: str | None = None
    # Stage → plain environment variables the app gets in that stage (`[tool.hangar.env.<stage>]`).
    stage_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def env_from_outputs(self) -> dict[str, str]:
        """App environment variable → service stack output, for every declared resource: the
        stack outputs exactly these, the task definitions and deploy-local's local.env read them."""
        resources: tuple[Bucket | Queue, ...] = (*self.buckets, *self.queues)
        return {
            variable: output
            for resource in resources
            for variable, output in resource.outputs.items()
        }

    @property
    def worker_queues(self) -> tuple[Queue, ...]:
        """The queues with a worker service of their own."""
        return tuple(queue for queue in self.queues if queue.worker_command is not None)

    @property
    def worker_command(self) -> tuple[str, ...] | None:
        """The worker a laptop runs (`make dev`, `make run-task TASK=worker`): the first declared
        queue's that has one; AWS runs one worker service per such queue."""
        return self.worker_queues[0].worker_command if self.worker_queues else None

    # `[tool.hangar.secrets]`: environment variable → description; `make secret` sets each value.
    secrets: Mapping[str, str] = field(default_factory=dict)
    # `[tool.hangar.schedules.<name>]`: commands EventBridge Scheduler runs as ECS tasks.
    schedules: tuple[Schedule, ...] = ()
    bench: Bench = Bench()
    # Where `make costs` writes the stages' monthly cost estimate, relative to the repository root,
    # for the team to commit (an infra test then fails when it is stale); None: .hangar/costs.md.
    costs_file: str | None = None

    @property
    def project_path(self) -> Path:
        return PYPROJECT.parent / self.project_dir

    def resource_prefix(self, stage: str) -> str:
        """What every AWS resource name of a stage starts with (stacks, repository, alarms, …)."""
        return f"{self.service_name}-{stage}"

    def stack_names(self, stage: str) -> tuple[str, str]:
        """The stage's CloudFormation stacks in deploy order: the registry, then the service."""
        prefix = self.resource_prefix(stage)
        return f"{prefix}-registry", f"{prefix}-service"

    def secret_name(self, stage: str, variable: str) -> str:
        """The Secrets Manager secret holding a declared secret's value in a stage."""
        return f"/{self.service_name}/{stage}/secrets/{variable}"

    def build_args(self) -> dict[str, str]:
        """The Dockerfile's build arguments: every image build passes these (hangar.deploy.image,
        CI)."""
        return {
            "PROJECT_DIR": self.project_dir,
            "SETTINGS_MODULE": self.settings_module,
            "WSGI_APPLICATION": self.wsgi_application,
            "CONTAINER_PORT": str(self.container_port),
            "HEALTH_PATH": self.health_path,
        }


def load(pyproject: Path = PYPROJECT) -> Contract:
    """Read and check `[tool.hangar]`; a bad entry raises ContractError naming it."""
    try:
        table = tomllib.loads(pyproject.read_text())["tool"]["hangar"]
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ContractError(f"cannot read {pyproject}: {error}") from error
    except KeyError:
        raise ContractError(
            f"{pyproject.name} has no [tool.hangar] table; see docs/adopting.md"
        ) from None

    def entry(key: str, pattern: re.Pattern[str] | None = None, form: str = "") -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise ContractError(f"[tool.hangar] {key} is missing in {pyproject.name}; {form}")
        if pattern is not None and not pattern.match(value):
            raise ContractError(f"[tool.hangar] {key} = {value!r} is invalid; {form}")
        return value

    def path(key: str) -> str:
        value = entry(key, form="write an absolute URL path such as '/healthz'")
        if not value.startswith("/") or any(c in value for c in " ?#"):
            raise ContractError(
                f"[tool.hangar] {key} = {value!r} is invalid; write an absolute URL path "
                "such as '/healthz', without query or fragment"
            )
        return value

    platform = entry("image-platform", form=f"use one of: {', '.join(FARGATE_PLATFORMS)}")
    if platform not in FARGATE_PLATFORMS:
        raise ContractError(
            f"[tool.hangar] image-platform = {platform!r} is not a Fargate platform; "
            f"use one of: {', '.join(FARGATE_PLATFORMS)}"
        )
    project_dir = entry("project-dir", form="name the folder that holds manage.py, e.g. 'app'")
    if Path(project_dir).is_absolute() or ".." in Path(project_dir).parts:
        raise ContractError(
            f"[tool.hangar] project-dir = {project_dir!r} must be a folder inside the repository"
        )
    port = table.get("container-port")
    if not isinstance(port, int) or isinstance(port, bool) or not 1024 <= port <= 65535:
        raise ContractError(
            f"[tool.hangar] container-port = {port!r} is invalid; use an unprivileged port "
            "(1024-65535) the app listens on, e.g. 8000"
        )
    for removed, instead in REPLACED_KEYS.items():
        if removed in table:
            raise ContractError(f"[tool.hangar] {removed} is no longer read; {instead}")
    buckets = _buckets(table.get("buckets", {}))
    queues = _queues(table.get("queues", {}))
    stage_env = _stage_env(table.get("env", {}))
    _check_distinct_variables(buckets, queues, stage_env)
    return Contract(
        service_name=entry(
            "service-name",
            SERVICE_NAME_PATTERN,
            SERVICE_NAME_FORM,
        ),
        image_platform=platform,
        project_dir=project_dir,
        settings_module=entry(
            "settings-module", MODULE_PATTERN, "write a dotted module, e.g. 'mysite.settings'"
        ),
        wsgi_application=entry(
            "wsgi-application",
            WSGI_PATTERN,
            "write 'module:callable', e.g. 'mysite.wsgi:application'",
        ),
        health_path=path("health-path"),
        readiness_path=path("readiness-path"),
        capacity_path=path("capacity-path") if "capacity-path" in table else None,
        container_port=port,
        buckets=buckets,
        queues=queues,
        upload_paths=_upload_paths(table.get("upload-paths", [])),
        stage_env=stage_env,
        secrets=declared_secrets(table.get("secrets")),
        schedules=declared_schedules(table.get("schedules")),
        bench=_bench(table.get("bench", {})),
        costs_file=_costs_file(table.get("costs-file")),
    )


def _costs_file(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.endswith(".md") or Path(value).is_absolute():
        raise ContractError(
            f"[tool.hangar] costs-file = {value!r} is invalid; write a Markdown file's path "
            "relative to the repository root, e.g. 'docs/costs.md'"
        )
    if ".." in Path(value).parts:
        raise ContractError(
            f"[tool.hangar] costs-file = {value!r} leaves the repository; write a path inside it"
        )
    return value


# Keys of earlier contracts: refused with where their fact lives now, rather than ignored.
REPLACED_KEYS = {
    "worker-command": "write it in the queue the worker consumes: [tool.hangar.queues.<name>] "
    "worker-command = ['python', 'manage.py', 'run_jobs']",
    "settings-from-outputs": "declare the resources instead: [tool.hangar.buckets.<name>] "
    "env = 'UPLOADS_BUCKET', [tool.hangar.queues.<name>] env = 'JOBS_QUEUE_URL'",
}


# Names whose constructs would collide with the platform's own (the access-log bucket beside the
# buckets, each queue's `<Name>DeadLetters` beside the queues).
RESERVED_NAMES = {"buckets": ("access-logs",), "queues": ()}
RESERVED_SUFFIXES = {"buckets": (), "queues": ("-dead-letters",)}


def _tables(value: object, key: str, example: str) -> dict[str, dict[str, object]]:
    """`[tool.hangar.<key>.<name>]` tables, by name."""
    if not isinstance(value, dict) or not all(isinstance(t, dict) for t in value.values()):
        raise ContractError(
            f"[tool.hangar.{key}] must hold one table per {key[:-1]}, e.g. {example}"
        )
    for name in value:
        if not RESOURCE_NAME_PATTERN.match(name):
            raise ContractError(
                f"[tool.hangar.{key}.{name}] has an invalid name; use lowercase words joined by "
                "single hyphens, each starting with a letter, e.g. 'uploads' or 'user-files'"
            )
        if name in RESERVED_NAMES[key] or name.endswith(RESERVED_SUFFIXES[key]):
            raise ContractError(
                f"[tool.hangar.{key}.{name}] collides with a resource Hangar names itself; "
                "choose another name"
            )
    return value


def _variable(table: dict[str, object], where: str, key: str, example: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not ENV_NAME_PATTERN.match(value):
        raise ContractError(
            f"[{where}] {key} = {value!r} is invalid; name the app's environment variable that "
            f"receives it (UPPER_CASE), e.g. {key} = '{example}'"
        )
    return value


def _unknown_keys(table: dict[str, object], where: str, known: tuple[str, ...]) -> None:
    if unknown := sorted(set(table) - set(known)):
        raise ContractError(
            f"[{where}] has unknown key {unknown[0]!r}; it takes: {', '.join(known)}"
        )


def _buckets(value: object) -> tuple[Bucket, ...]:
    buckets = []
    for name, table in _tables(value, "buckets", "[tool.hangar.buckets.uploads]").items():
        where = f"tool.hangar.buckets.{name}"
        _unknown_keys(table, where, ("env",))
        buckets.append(Bucket(name, _variable(table, where, "env", "UPLOADS_BUCKET")))
    return tuple(buckets)


def _queues(value: object) -> tuple[Queue, ...]:
    queues = []
    for name, table in _tables(value, "queues", "[tool.hangar.queues.jobs]").items():
        where = f"tool.hangar.queues.{name}"
        _unknown_keys(table, where, ("env", "dlq-env", "worker-command"))
        worker = table.get("worker-command")
        if worker is not None and (
            not isinstance(worker, list)
            or not worker
            or not all(isinstance(a, str) for a in worker)
        ):
            raise ContractError(
                f"[{where}] worker-command must be a list of strings, e.g. "
                "['python', 'manage.py', 'run_jobs'], or left out when no worker consumes the queue"
            )
        queues.append(
            Queue(
                name,
                env=_variable(table, where, "env", "JOBS_QUEUE_URL"),
                dlq_env=_variable(table, where, "dlq-env", "JOBS_DLQ_URL")
                if "dlq-env" in table
                else None,
                worker_command=tuple(worker) if worker is not None else None,
            )
        )
    return tuple(queues)


def _check_distinct_variables(
    buckets: tuple[Bucket, ...],
    queues: tuple[Queue, ...],
    stage_env: Mapping[str, Mapping[str, str]],
) -> None:
    seen: set[str] = set()
    declared = [b.env for b in buckets] + [v for q in queues for v in (q.env, q.dlq_env) if v]
    for variable in declared:
        if variable in seen:
            raise ContractError(
                f"[tool.hangar] two declared resources give the app {variable}; "
                "give each bucket and queue (and dead-letter queue) its own variable"
            )
        seen.add(variable)
    for stage, variables in stage_env.items():
        if taken := sorted(seen & set(variables)):
            raise ContractError(
                f"[tool.hangar.env.{stage}] sets {taken[0]}, which a declared bucket or queue "
                "gives the app; remove it there"
            )


def _upload_paths(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(path, str) and path.startswith("/") and not any(c in path for c in " ?#*")
        for path in value
    ):
        raise ContractError(
            f"[tool.hangar] upload-paths = {value!r} is invalid; list the exact URL paths that "
            "take uploaded files as request bodies, e.g. ['/files/upload/'], or leave it out"
        )
    return tuple(value)


def _bench(value: object) -> Bench:
    if not isinstance(value, dict):
        raise ContractError(
            "[tool.hangar.bench] must be a table, e.g. [tool.hangar.bench] with seed-command"
        )
    _unknown_keys(value, "tool.hangar.bench", BENCH_KEYS)
    seed = value.get("seed-command")
    if seed is not None and (
        not isinstance(seed, list) or not seed or not all(isinstance(a, str) and a for a in seed)
    ):
        raise ContractError(
            "[tool.hangar.bench] seed-command must be a list of strings, e.g. "
            "['python', 'manage.py', 'seed_load'], or left out"
        )
    upload = value.get("upload-path")
    if upload is not None and (
        not isinstance(upload, str)
        or not upload.startswith("/")
        or any(c in upload for c in " ?#*")
    ):
        raise ContractError(
            f"[tool.hangar.bench] upload-path = {upload!r} is invalid; write the exact URL path "
            "files are uploaded to, e.g. '/api/files/', or leave it out"
        )
    return Bench(seed_command=tuple(seed) if seed else None, upload_path=upload)


def _stage_env(value: object) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise ContractError(
            "[tool.hangar.env] must hold one table per stage, e.g. [tool.hangar.env.prod]"
        )
    for stage, variables in value.items():
        if (
            not STAGE_NAME_PATTERN.match(stage)
            or not isinstance(variables, dict)
            or not all(
                isinstance(k, str) and ENV_NAME_PATTERN.match(k) and isinstance(v, str)
                for k, v in variables.items()
            )
        ):
            raise ContractError(
                f"[tool.hangar.env.{stage}] must map environment variable names (UPPER_CASE) to "
                "strings, e.g. FEATURE_FLAGS = 'billing'"
            )
    return {stage: dict(variables) for stage, variables in value.items()}


def declared_secrets(table: object) -> dict[str, str]:
    """`[tool.hangar.secrets]`: environment variable name → what the secret is (for `make secret`
    and the docs of whoever sets it)."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ContractError(
            "[tool.hangar.secrets] must be a table of NAME = 'description', e.g. "
            "STRIPE_API_KEY = 'the Stripe secret key'"
        )
    for name, description in table.items():
        if not SECRET_NAME_PATTERN.match(name):
            raise ContractError(
                f"[tool.hangar.secrets] {name!r} is not an environment variable name; write "
                "UPPER_CASE letters, digits and underscores (up to 64), starting with a letter, "
                "e.g. STRIPE_API_KEY"
            )
        if not isinstance(description, str) or not description.strip():
            raise ContractError(
                f"[tool.hangar.secrets] {name} needs a description, e.g. "
                f"{name} = 'the Stripe secret key'"
            )
    return dict(table)


def declared_schedules(table: object) -> tuple[Schedule, ...]:
    """`[tool.hangar.schedules.<name>]`, each with `cron` and `command`, in the file's order."""
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise ContractError(
            "[tool.hangar.schedules] must hold one table per schedule, e.g. "
            "[tool.hangar.schedules.nightly-report] with cron and command"
        )
    return tuple(_schedule(name, entry) for name, entry in table.items())


def _schedule(name: str, entry: object) -> Schedule:
    key = f"[tool.hangar.schedules.{name}]"
    if not SCHEDULE_NAME_PATTERN.match(name):
        raise ContractError(
            f"{key}: the name must be 1-32 lowercase letters, digits and single hyphens, "
            "starting with a letter, e.g. nightly-report"
        )
    if not isinstance(entry, dict) or (unknown := sorted(set(entry) - set(SCHEDULE_KEYS))):
        extra = f" (not {', '.join(unknown)})" if isinstance(entry, dict) else ""
        raise ContractError(f"{key} takes cron and command{extra}")
    cron = entry.get("cron")
    if not isinstance(cron, str) or not valid_expression(cron):
        raise ContractError(f"{key} cron = {cron!r} is invalid; {CRON_FORM}")
    command = entry.get("command")
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(part, str) and part for part in command)
    ):
        raise ContractError(
            f"{key} command must be a list of strings, e.g. ['python', 'manage.py', 'report']"
        )
    return Schedule(name=name, cron=cron, command=tuple(command))


def valid_expression(expression: str) -> bool:
    """Whether EventBridge Scheduler takes `expression` as a recurring schedule (its shape; AWS
    checks the values of each field when the stack is deployed)."""
    if RATE_PATTERN.match(expression):
        return True
    if not (expression.startswith("cron(") and expression.endswith(")")):
        return False
    fields = expression[len("cron(") : -1].split(" ")
    if len(fields) != 6 or not all(CRON_FIELD.match(field) for field in fields):
        return False
    day_of_month, day_of_week = fields[2], fields[4]
    # Scheduler (like EventBridge) takes exactly one of the two day fields as `?`.
    return (day_of_month == "?") != (day_of_week == "?")


@cache
def contract() -> Contract:
    """The checkout's contract, read once per process."""
    return load()


if __name__ == "__main__":
    # For builds without the hangar CLI (CI's image job): `python -m hangar.core.contract
    # build-args` prints one KEY=VALUE line per build argument, as docker/build-push-action takes
    # them; `image-platform` prints the platform.
    import sys

    commands = {
        "build-args": lambda c: "\n".join(f"{k}={v}" for k, v in c.build_args().items()),
        "image-platform": lambda c: c.image_platform,
    }
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python -m hangar.core.contract {{{','.join(commands)}}}")
    try:
        print(commands[sys.argv[1]](contract()))
    except ContractError as error:
        sys.exit(f"error: {error}")
