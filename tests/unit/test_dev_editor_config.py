"""The devcontainer and VS Code launch configuration agree with the schema and with compose.yaml.

tests/fixtures/devContainer.base.schema.json is a copy (reformatted, content unchanged) of
schemas/devContainer.base.schema.json from the public github.com/devcontainers/spec repository,
commit 15f30fd007af77a9615c6e5e6a765c682a425b88 — the schema VS Code and the devcontainer CLI use.
"""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from hangar.core.paths import ROOT

SCHEMA = ROOT / "tests" / "fixtures" / "devContainer.base.schema.json"
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
DEVCONTAINER_COMPOSE = ROOT / ".devcontainer" / "compose.devcontainer.yaml"
MAKEFILE = ROOT / "Makefile"
LAUNCH = ROOT / ".vscode" / "launch.json"
COMPOSE = ROOT / "compose.yaml"


def load(path: Path) -> Any:
    # Both files are kept strict JSON (no JSONC comments) so any JSON tool can read them.
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def validator() -> Draft201909Validator:
    schema = load(SCHEMA)
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    if not COMPOSE.exists():
        pytest.fail(f"{COMPOSE} is missing; the devcontainer is defined on its `web` service")
    return dict(yaml.safe_load(COMPOSE.read_text()))


# The bind mount's source: the checkout, unless HANGAR_SOURCE_DIR points elsewhere (the e2e tests).
CHECKOUT_SOURCES = {".", "./", "${HANGAR_SOURCE_DIR:-.}"}


def source_mount(compose: dict[str, Any]) -> str:
    """Where compose's web service mounts the checkout (by default; see CHECKOUT_SOURCES)."""
    for volume in compose["services"]["web"]["volumes"]:
        source, _, target = str(volume).rpartition(":")
        if source in CHECKOUT_SOURCES:
            return target
    raise AssertionError("compose.yaml's web service does not bind-mount the checkout")


def published(compose: dict[str, Any], service: str, container_port: int) -> bool:
    return any(
        str(port).endswith(f":{container_port}") for port in compose["services"][service]["ports"]
    )


def test_devcontainer_is_valid_against_the_spec_schema(validator: Draft201909Validator) -> None:
    errors = [error.message for error in validator.iter_errors(load(DEVCONTAINER))]
    assert errors == []


def test_schema_rejects_unknown_keys(validator: Draft201909Validator) -> None:
    """Guards the test above: a typo in a key must fail validation, not pass silently."""
    config = {**load(DEVCONTAINER), "forwardPort": [8000]}
    assert not validator.is_valid(config)


def test_devcontainer_runs_on_the_compose_web_service(compose: dict[str, Any]) -> None:
    config = load(DEVCONTAINER)
    compose_files = [(DEVCONTAINER.parent / path).resolve() for path in config["dockerComposeFile"]]
    assert compose_files == [COMPOSE, DEVCONTAINER_COMPOSE]
    assert config["service"] == "web"
    assert set(config["runServices"]) <= set(compose["services"])
    assert config["workspaceFolder"] == source_mount(compose)
    extensions = config["customizations"]["vscode"]["extensions"]
    assert {"ms-python.python", "ms-python.debugpy", "charliermarsh.ruff"} <= set(extensions)
    interpreter = config["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"]
    assert interpreter == "/app/.venv/bin/python"


def test_devcontainer_forwards_each_port_from_the_service_that_listens_on_it(
    compose: dict[str, Any],
) -> None:
    """A bare number is forwarded from the web container; `service:port` from another one."""
    forwarded = {
        tuple(str(port).split(":")) if ":" in str(port) else ("web", str(port))
        for port in load(DEVCONTAINER)["forwardPorts"]
    }
    assert forwarded == {("web", "8000"), ("web", "5678"), ("localstack", "4566")}
    for service, port in forwarded:
        assert published(compose, service, int(port)), f"{service} does not serve {port}"


def test_lifecycle_commands_are_make_targets() -> None:
    """postCreate installs what the image lacks; postStart deploys the stage for the worker."""
    config = load(DEVCONTAINER)
    targets = {line.split(":")[0] for line in MAKEFILE.read_text().splitlines() if ":" in line}
    assert config["postCreateCommand"] == "make setup"
    assert config["postStartCommand"] == "make deploy-local"
    assert {"setup", "deploy-local"} <= targets


def test_launch_attaches_to_debugpy_with_the_container_path_mapping(
    compose: dict[str, Any],
) -> None:
    configurations = {entry["name"]: entry for entry in load(LAUNCH)["configurations"]}
    container = configurations["Attach to Hangar"]
    assert (container["type"], container["request"]) == ("debugpy", "attach")
    assert container["connect"]["port"] == 5678
    assert container["subProcess"] is True, "without it breakpoints stop working after a reload"
    assert container["pathMappings"] == [
        {"localRoot": "${workspaceFolder}", "remoteRoot": source_mount(compose)}
    ]
    host = configurations["Attach to Hangar (host mode)"]
    assert host["subProcess"] is True
    assert "pathMappings" not in host, "host mode runs the checkout itself: paths are identical"
