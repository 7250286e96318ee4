"""Nothing the dev environment starts listens beyond this machine unless the user opts in.

Reads what would really run: the configuration the real `docker compose config` renders from
compose.yaml, and the command lines and settings host mode starts its servers with. Each check is
also run against a violating configuration, so a check that stopped looking would fail here.
"""

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from hangar.core import ports
from hangar.core.errors import HangarError
from hangar.core.paths import ROOT
from hangar.devloop import dev
from hangar.devloop.debug_server import ServerAddress, server_command
from hangar.localstack import host as localstack_host
from hangar.localstack.endpoint import configured_endpoint

COMPOSE_FILE = ROOT / "compose.yaml"
DEVCONTAINER_COMPOSE_FILE = ROOT / ".devcontainer" / "compose.devcontainer.yaml"
# Everything that moves a published port; none of them may move it off loopback.
PORT_VARIABLES = ("WEB_PORT", "DEBUGPY_PORT", "LOCALSTACK_PORT")
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - the opt-in this module proves is not the default


def environment(**overrides: str) -> dict[str, str]:
    """The caller's environment without the variables under test, plus `overrides`."""
    cleared = (ports.BIND_ADDRESS_VARIABLE, *PORT_VARIABLES, "LOCALSTACK_ENDPOINT")
    return {**{k: v for k, v in os.environ.items() if k not in cleared}, **overrides}


def rendered(
    compose_cli: list[str], files: Sequence[Path], env: Mapping[str, str]
) -> dict[str, Any]:
    """`docker compose config` as the CLI resolves it; no .env file, so the defaults show."""
    command = [*compose_cli, "--project-directory", str(ROOT), "--env-file", os.devnull]
    for file in files:
        command += ["--file", str(file)]
    result = subprocess.run(
        [*command, "config", "--format", "json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def compose_listeners_beyond_loopback(config: Mapping[str, Any]) -> list[str]:
    """Every published port (or host-network service) that other machines could reach."""
    exposed = []
    for name, service in config.get("services", {}).items():
        if service.get("network_mode") == "host":
            exposed.append(f"{name}: network_mode host (every port it opens is on the host)")
        for port in service.get("ports") or []:
            address = port.get("host_ip") or ""
            if not ports.is_loopback(address):
                where = address or "every interface"
                exposed.append(f"{name}: {where}:{port.get('published')} -> {port['target']}")
    return exposed


def command_listeners_beyond_loopback(argv: Sequence[str]) -> list[str]:
    """debugpy's --listen and the server's address in a dev server command line."""
    addresses = []
    if "--listen" in argv:
        addresses.append(argv[argv.index("--listen") + 1])
    for server in ("runserver", "hangar.devloop.devserver"):
        if server in argv:
            addresses.append(argv[argv.index(server) + 1])
    return [address for address in addresses if not ports.is_loopback(address.rpartition(":")[0])]


def debugpy_listen(argv: Sequence[str]) -> str:
    return argv[list(argv).index("--listen") + 1]


def host_mode_listeners(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> list[str]:
    """What host mode binds: its dev server command line and LocalStack's GATEWAY_LISTEN."""
    for name in [ports.BIND_ADDRESS_VARIABLE, "LOCALSTACK_ENDPOINT", "HANGAR_LOCALSTACK_PORT"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    server = server_command(dev.listen_address(8000, 5678), python="python")
    gateway = localstack_host.runtime_env(configured_endpoint(), ROOT)["GATEWAY_LISTEN"]
    exposed = command_listeners_beyond_loopback(server)
    return exposed if ports.is_loopback(gateway.rpartition(":")[0]) else [*exposed, gateway]


class TestCompose:
    @pytest.mark.parametrize(
        "overrides",
        [{}, {"WEB_PORT": "8123", "DEBUGPY_PORT": "5699", "LOCALSTACK_PORT": "4699"}],
        ids=["defaults", "other-ports"],
    )
    def test_every_published_port_is_on_loopback(
        self, compose_cli: list[str], overrides: dict[str, str]
    ) -> None:
        config = rendered(compose_cli, [COMPOSE_FILE], environment(**overrides))
        published = [p for s in config["services"].values() for p in s.get("ports") or []]
        assert {p["target"] for p in published} == {8000, 5678, 4566}, "the check saw no ports"
        assert compose_listeners_beyond_loopback(config) == []

    def test_the_opt_in_variable_publishes_where_asked_and_the_check_sees_it(
        self, compose_cli: list[str]
    ) -> None:
        env = environment(**{ports.BIND_ADDRESS_VARIABLE: EVERY_INTERFACE})
        exposed = compose_listeners_beyond_loopback(rendered(compose_cli, [COMPOSE_FILE], env))
        assert sorted(exposed) == [
            "localstack: 0.0.0.0:4566 -> 4566",
            "web: 0.0.0.0:5678 -> 5678",
            "web: 0.0.0.0:8000 -> 8000",
        ]

    def test_the_dev_container_publishes_nothing_even_when_opted_in(
        self, compose_cli: list[str]
    ) -> None:
        """VS Code forwards the ports it needs itself, on this machine's loopback."""
        env = environment(**{ports.BIND_ADDRESS_VARIABLE: EVERY_INTERFACE})
        config = rendered(compose_cli, [COMPOSE_FILE, DEVCONTAINER_COMPOSE_FILE], env)
        assert [s.get("ports") for s in config["services"].values() if s.get("ports")] == []
        assert compose_listeners_beyond_loopback(config) == []

    def test_debugpy_in_the_dev_container_listens_on_the_containers_loopback_only(
        self, compose_cli: list[str]
    ) -> None:
        """The dev container holds the host's Docker socket: debugpy there must not be reachable
        from the compose network. VS Code attaches from inside the container."""
        files = [COMPOSE_FILE, DEVCONTAINER_COMPOSE_FILE]
        devcontainer = rendered(compose_cli, files, environment())["services"]["web"]["command"]
        compose = rendered(compose_cli, [COMPOSE_FILE], environment())["services"]["web"]["command"]

        assert debugpy_listen(devcontainer) == "127.0.0.1:5678"
        # `make dev` attaches from the host through the port published on its loopback, which
        # reaches a server listening on the container's every interface only.
        assert debugpy_listen(compose) == "0.0.0.0:5678"
        assert [arg for arg in devcontainer if arg != debugpy_listen(devcontainer)] == [
            arg for arg in compose if arg != debugpy_listen(compose)
        ], "the dev container's web command may differ from compose.yaml's in debugpy's address"

    def test_rejects_a_port_published_without_an_address(
        self, compose_cli: list[str], tmp_path: Path
    ) -> None:
        """The bad fixture: what compose.yaml used to say, rendered by the same CLI."""
        bad = tmp_path / "compose.yaml"
        bad.write_text(
            "services:\n"
            "  web:\n    image: scratch\n    ports: ['5678:5678', '127.0.0.1:8000:8000']\n"
            "  db:\n    image: scratch\n    network_mode: host\n"
        )
        exposed = compose_listeners_beyond_loopback(rendered(compose_cli, [bad], environment()))
        assert sorted(exposed) == [
            "db: network_mode host (every port it opens is on the host)",
            "web: every interface:5678 -> 5678",
        ]


class TestHostMode:
    def test_dev_server_debugpy_and_localstack_listen_on_loopback(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert host_mode_listeners(monkeypatch, {}) == []
        assert host_mode_listeners(monkeypatch, {"HANGAR_LOCALSTACK_PORT": "4617"}) == []

    def test_the_opt_in_variable_moves_the_dev_server_and_the_check_sees_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        exposed = host_mode_listeners(monkeypatch, {ports.BIND_ADDRESS_VARIABLE: EVERY_INTERFACE})
        assert exposed == ["0.0.0.0:5678", "0.0.0.0:8000"]

    def test_rejects_a_command_line_that_listens_everywhere(self) -> None:
        everywhere = ServerAddress(host=EVERY_INTERFACE, debug_host=EVERY_INTERFACE)
        assert command_listeners_beyond_loopback(server_command(everywhere)) == [
            "0.0.0.0:5678",
            "0.0.0.0:8000",
        ]

    def test_a_bind_address_that_is_not_an_address_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(ports.BIND_ADDRESS_VARIABLE, "my-laptop.local")
        with pytest.raises(HangarError, match=r"HANGAR_BIND_ADDRESS='my-laptop\.local' is not an"):
            dev.listen_address(8000, 5678)
