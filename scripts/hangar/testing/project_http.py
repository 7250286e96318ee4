"""What the project's health and readiness paths answer, asked as the load balancer and the deploy
ask them: Django's test client in a fresh interpreter, with the settings the runtime image's
build gives the project (DJANGO_ENV=production and nothing of a deployed stage)."""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass

from hangar.core.contract import Contract
from hangar.core.paths import TEMPLATES_DIR

# What an ALB health check sends as Host: the task's private IP, which ALLOWED_HOSTS cannot list
# (the seed's stack stayed in CREATE_IN_PROGRESS on the 400 Django gave it).
PRIVATE_IP_HOST = "10.0.1.23"
# The variables of the Dockerfile's collectstatic step, read from the template every Dockerfile is
# rendered from: what every project's settings must import with.
COLLECTSTATIC_STEP = re.compile(
    r"^RUN ((?:[A-Z_]+=\S+ \\\n\s*)+)python manage\.py collectstatic", re.M
)


def build_environment() -> dict[str, str]:
    """The runtime image's build environment for the project's settings (its SQLite file is
    never opened here: the test database is)."""
    step = COLLECTSTATIC_STEP.search((TEMPLATES_DIR / "Dockerfile.template").read_text())
    if step is None:
        raise RuntimeError("Dockerfile.template has no collectstatic step with its variables")
    return dict(re.findall(r"([A-Z_]+)=(\S+)", step[1]))


BUILD_ENV = build_environment()
# Readiness over HTTPS, as the load balancer's listener forwards it (no HTTPS redirect), with the
# test client's allowed host; the database is Django's test database (in memory for SQLite).
ASK = """
import json, sys
import django
from django.test.utils import setup_databases, setup_test_environment, teardown_databases

health, readiness, private_ip = sys.argv[1:4]
django.setup()
setup_test_environment(debug=False)
databases = setup_databases(verbosity=0, interactive=False)
from django.test import Client

client = Client()
answers = {
    "health": client.get(health, headers={"host": private_ip}).status_code,
    "health_head": client.head(health, headers={"host": private_ip}).status_code,
    "readiness": client.get(readiness, secure=True).status_code,
}
teardown_databases(databases, verbosity=0)
print(json.dumps(answers))
"""
# A cold start of Django and the project's migrations into the test database, on a loaded machine.
DEADLINE_SECONDS = 300


@dataclass(frozen=True)
class Answers:
    health: int
    health_head: int
    readiness: int


class ProjectDidNotAnswer(AssertionError):
    """The project failed before answering (settings that do not import, a view that raises)."""


def ask(project: Contract) -> Answers:
    """The status codes of GET and HEAD of the health path by the private IP, and of the
    readiness path by an allowed host with the database up."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": project.settings_module,
        "PYTHONPATH": str(project.project_path),
        **BUILD_ENV,
    }
    result = subprocess.run(
        [sys.executable, "-c", ASK, project.health_path, project.readiness_path, PRIVATE_IP_HOST],
        cwd=project.project_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise ProjectDidNotAnswer(
            f"{project.settings_module} did not answer (exit {result.returncode}) with the image "
            f"build's environment {sorted(BUILD_ENV)}:\n{result.stderr[-3000:]}"
        )
    return Answers(**json.loads(result.stdout.strip().splitlines()[-1]))
