"""Whether each service a `make dev` session declared is up: `make dev`, `make logs` and
`make doctor` say which is down, instead of a healthy-looking session without its worker.

Docker mode's services are compose.yaml's (the active profiles'), judged from `docker compose ps
--all`; a one-shot service (another waits for it with `service_completed_successfully`, like
`migrate`) is up once it exited 0. Host mode's are the children `make dev` started and LocalStack.
"""

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hangar.core.console import info, warn
from hangar.core.errors import HangarError

WATCH_INTERVAL = 5.0


@dataclass(frozen=True)
class ServiceState:
    name: str
    up: bool
    detail: str


def parse_compose_ps(output: str) -> list[dict[str, Any]]:
    """`docker compose ps --format json`'s rows: one object per line (compose 2.21+), else an
    array."""
    output = output.strip()
    if not output:
        return []
    if output.startswith("["):
        return list(json.loads(output))
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def _one_shot(services: Mapping[str, Any]) -> set[str]:
    return {
        dependency
        for service in services.values()
        for dependency, wait in (service.get("depends_on") or {}).items()
        if (wait or {}).get("condition") == "service_completed_successfully"
    }


def compose_states(
    config: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]
) -> list[ServiceState]:
    """Each service of `docker compose config` (its active profiles'), from `ps --all` rows."""
    services = config.get("services", {})
    one_shot = _one_shot(services)
    by_service = {row.get("Service"): row for row in rows}
    states = []
    for name in services:
        row = by_service.get(name)
        if row is None:
            states.append(ServiceState(name, False, "no container (not started)"))
            continue
        state, health = row.get("State"), row.get("Health")
        status = row.get("Status") or state or "unknown"
        if name in one_shot and state == "exited" and row.get("ExitCode") == 0:
            states.append(ServiceState(name, True, "completed"))
        else:
            states.append(ServiceState(name, state == "running" and health != "unhealthy", status))
    return states


def host_states(
    declared: Sequence[str], alive: Mapping[str, int], localstack_answers: Callable[[], bool]
) -> list[ServiceState]:
    """The host-mode session's services: its children (alive by their pid files) and LocalStack."""
    states = []
    for name in declared:
        if name == "localstack":
            up = localstack_answers()
            states.append(ServiceState(name, up, "answers" if up else "does not answer"))
        elif name in alive:
            states.append(ServiceState(name, True, f"running (pid {alive[name]})"))
        else:
            states.append(ServiceState(name, False, "not running"))
    return states


def down_message(state: ServiceState) -> str:
    return (
        f"{state.name} is down ({state.detail}): `make logs SERVICE={state.name}` shows why; "
        "`make dev` starts it again"
    )


def say(state: ServiceState) -> None:
    if state.up:
        info(f"{state.name} is up again ({state.detail})")
    else:
        warn(down_message(state))


def report_down(states: Iterable[ServiceState]) -> None:
    for state in states:
        if not state.up:
            say(state)


def changes(before: Sequence[ServiceState], now: Sequence[ServiceState]) -> list[ServiceState]:
    """The services that went down or came back between `before` and `now` (a service new in
    `now` counts as up before)."""
    was_up = {state.name: state.up for state in before}
    return [state for state in now if was_up.get(state.name, True) != state.up]


class Watch:
    """While the block runs, a thread checks `states` every `interval` seconds and says which
    service went down or came back."""

    def __init__(
        self,
        states: Callable[[], list[ServiceState]],
        initial: list[ServiceState],
        interval: float = WATCH_INTERVAL,
    ) -> None:
        self.states = states
        self.initial = initial  # what was said already
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="service-watch", daemon=True)

    def _run(self) -> None:
        before = self.initial
        while not self.stopping.wait(self.interval):
            try:
                now = self.states()
            except HangarError:
                continue  # compose did not answer this time; the next round asks again
            for state in changes(before, now):
                say(state)
            before = now

    def __enter__(self) -> "Watch":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=self.interval + 30)
