"""`hangar run-task --stage local`: the container ECS would run, run locally.

Reads the task definition from the synthesized service stack, resolves its environment and
secrets against the `local` stage deployed in the compose project's LocalStack (as the ECS agent
would inject them), and runs the runtime image with them on the compose network, after the
migration task (as the deploy runs it before the services). Only what cannot exist locally is
replaced (the ALB's DNS name, the RDS endpoint, AWS credentials, TLS at the ALB), and the printed
table says where every value came from.
"""

import argparse
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from hangar.core import docker_client, processes
from hangar.core.console import info, step
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.ports import ensure_free
from hangar.core.stages import LOCAL_STAGE, check_stage
from hangar.deploy import stacks as infra
from hangar.deploy import task_definition, task_docker, task_environment
from hangar.deploy.cfn_values import (
    Resolver,
)
from hangar.deploy.task_docker import ComposeServices
from hangar.deploy.task_environment import (
    DB_SERVICE,
    LOCALSTACK_SERVICE,
    ContainerSpec,
    LocalDatabase,
    Variable,
)

TASKS = ("web", "worker", "migration")
MIGRATION_TASK = "migration"
DEFAULT_PORT = 8080  # beside `make dev`'s 8000, so both can run at once
RUN_TASK_PORT_HINT = "pick a free one: make run-task PORT=8081 (hangar run-task --port 8081)"


@dataclass(frozen=True)
class Options:
    stage: str
    task: str = "web"
    # This checkout's (hangar.core.docker_client.compose_project), unless another is named.
    compose_project: str = field(default_factory=docker_client.compose_project)
    port: int = DEFAULT_PORT
    detach: bool = False
    database_url: str | None = None  # a PostgreSQL of the user's instead of the compose `db`


@dataclass(frozen=True)
class RunningTask:
    container: str
    url: str | None


def check_local_stage(stage: str) -> None:
    check_stage(stage)
    if stage != LOCAL_STAGE:
        raise HangarError(
            f"run-task runs the `local` stage only; {stage!r} runs on ECS in AWS.",
            hint=f"deploy it with `make deploy STAGE={stage}`, or run the task locally with "
            "`make run-task` (STAGE=local)",
        )


def require_docker() -> None:
    if not docker_client.engine_responds():
        raise HangarError(
            "no Docker engine answers `docker info`; run-task runs the runtime image in Docker.",
            hint="make docker-provision",
        )


def mask(value: str) -> str:
    return f"•••• ({len(value)} chars)"


def table(variables: Sequence[Variable]) -> str:
    rows = [("NAME", "VALUE", "FROM")] + [
        (v.name, mask(v.value) if v.secret else v.value, v.source)
        for v in sorted(variables, key=lambda v: v.name)
    ]
    name_width = max(len(row[0]) for row in rows)
    value_width = min(max(len(row[1]) for row in rows), 60)
    return "\n".join(
        f"  {name:<{name_width}}  {value:<{value_width}}  {source}" for name, value, source in rows
    )


def tasks_to_run(task: str) -> list[str]:
    """The migration task first, to completion, as `make deploy` runs it before it updates the
    services: a new project's first page is then served, not a 500 for want of its tables."""
    return list(dict.fromkeys([MIGRATION_TASK, task]))


def prepare(options: Options) -> tuple[dict[str, ContainerSpec], ComposeServices, LocalDatabase]:
    """Each task `tasks_to_run` names, in that order, with its environment resolved."""
    check_local_stage(options.stage)
    if options.task not in TASKS:
        raise HangarError(f"unknown task {options.task!r}", hint=f"one of: {', '.join(TASKS)}")
    require_docker()
    services = task_docker.compose_services(options.compose_project)
    stack_name = contract().stack_names(LOCAL_STAGE)[1]
    assembly = task_definition.ensure_synthesized()
    template = infra.stack_template(assembly, stack_name)
    tasks = tasks_to_run(options.task)
    if task_definition.task_container(template, options.task).get("PortMappings"):
        # Before anything starts, the compose `db` included.
        ensure_free({options.port: f"run-task {options.task}"}, RUN_TASK_PORT_HINT)
    with step(f"Resolve the environment of {', '.join(tasks)} from {services.localstack_endpoint}"):
        stack = task_environment.deployed_stack(services.localstack_endpoint, stack_name, template)
        if options.database_url:
            database = task_environment.database_from_url(options.database_url)
        else:
            if not services.db_running:
                task_docker.ensure_db(services.project)
            database = task_docker.compose_database(services.project)
        specs = {
            task: task_environment.container_spec(
                task_definition.task_container(template, task),
                Resolver(stack),
                endpoint=services.localstack_endpoint,
                database=database,
            )
            for task in tasks
        }
    return specs, services, database


def run(options: Options) -> RunningTask | int:
    """Run the task; detached → the running container, otherwise its exit code."""
    specs, services, database = prepare(options)
    spec = specs[options.task]
    for task in specs:
        if task_docker.container_exists(
            existing := task_docker.container_name(services.project, task)
        ):
            raise HangarError(
                f"a container named {existing} already exists (an earlier run-task).",
                hint=f"stop it: docker rm --force {existing}",
            )
    name = task_docker.container_name(services.project, options.task)
    image = task_docker.ensure_runtime_image()
    if options.task != MIGRATION_TASK:
        apply_migrations(specs[MIGRATION_TASK], services, database, image)
    variables = list(spec.variables.values())
    info(f"\nThe {options.task} task's container, as ECS would start it:\n{table(variables)}")
    info(
        f"  image    {image} (built from the Dockerfile's runtime target; ECS pulls the same "
        "build from ECR)\n"
        f"  command  {' '.join(spec.command) if spec.command else '(the image CMD: gunicorn)'}\n"
        f"  network  {services.network} (reaches `{LOCALSTACK_SERVICE}` and `{DB_SERVICE}` by name)"
    )
    url = None
    if spec.container_port is not None:
        url = f"http://127.0.0.1:{options.port}"
        info(
            f"  serving  {url} → container port {spec.container_port} (127.0.0.1 only); "
            "requests need Host: localhost or 127.0.0.1 (DJANGO_ALLOWED_HOSTS)"
        )
    command = task_docker.docker_run_command(
        spec,
        image=image,
        name=name,
        network=services.network,
        port=options.port,
        detach=options.detach,
        host_gateway=database.needs_host_gateway,
    )
    env = {**os.environ, **{n: v.value for n, v in spec.variables.items()}}
    if not options.detach:
        info(f"Running {name} in the foreground; Ctrl-C stops and removes it.\n")
        return subprocess.run(command, env=env, check=False).returncode
    with step(f"Start {name} and wait until it is healthy"):
        processes.run(command, env=env)
        task_docker.wait_until_started(name, f"{url}{contract().health_path}" if url else None)
    info(f"{name} runs. Logs: docker logs --follow {name}. Stop: docker rm --force {name}")
    return RunningTask(container=name, url=url)


def apply_migrations(
    spec: ContainerSpec, services: ComposeServices, database: LocalDatabase, image: str
) -> None:
    """The migration task in the foreground; the task asked for starts only if it succeeds."""
    name = task_docker.container_name(services.project, MIGRATION_TASK)
    command = task_docker.docker_run_command(
        spec,
        image=image,
        name=name,
        network=services.network,
        port=0,  # the migration task publishes no port
        detach=False,
        host_gateway=database.needs_host_gateway,
    )
    env = {**os.environ, **{n: v.value for n, v in spec.variables.items()}}
    with step(
        f"Apply migrations: the migration task ({' '.join(spec.command or [])}), as deploy does"
    ):
        returncode = subprocess.run(command, env=env, check=False).returncode
    if returncode != 0:
        raise HangarError(
            f"the migration task failed (exit {returncode}; its output is above), so no other "
            "task was started.",
            hint="fix what it names, then run `make run-task` again "
            "(`make run-task TASK=migration` runs it alone)",
        )


def _cmd_run_task(args: argparse.Namespace) -> int:
    options = Options(
        stage=args.stage,
        task=args.task,
        compose_project=args.compose_project or docker_client.compose_project(),
        port=args.port,
        detach=args.detach,
        database_url=os.environ.get("DATABASE_URL") or None,
    )
    result = run(options)
    return 0 if isinstance(result, RunningTask) else result


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "run-task",
        help="run a task definition of the local stage in the runtime image, with its env and "
        "secrets resolved from LocalStack",
    )
    parser.add_argument("--stage", required=True, help="local (other stages run on ECS)")
    parser.add_argument("--task", choices=TASKS, default="web", help="which task definition")
    parser.add_argument(
        "--compose-project",
        default=None,
        help="the compose project whose LocalStack holds the stage (default: this checkout's, "
        "COMPOSE_PROJECT_NAME when set)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="host port on 127.0.0.1 (default: %(default)s)",
    )
    parser.add_argument(
        "--detach", action="store_true", help="return once the container is healthy"
    )
    parser.set_defaults(func=_cmd_run_task)
