"""Two checkouts on one machine never touch each other (docs/dev.md#two-checkouts-on-one-machine).

Two copies of this checkout (its git-visible files) in folders of the same name, `hangar`, under
different parents: the worst case for a name derived from the folder alone. Neither names its
compose project; each CLI derives its own (hangar.core.docker_client.compose_project). The first
runs `make dev` (LocalStack with the deployed `local` stage, db, web, worker). Then the second:
- `localstack up` on the first one's LocalStack port is refused with one line naming the first
  checkout's container, and changes nothing;
- `dev`, `run-task` (web, on a port of its own) and `down`, on ports of its own.
After each step every container of the first checkout is the same container, started at the same
time, its web still answers, and its stage is the same CloudFormation stack.

The copies are tests/e2e/checkout_copy.py's. Everything either copy creates (containers, networks,
volumes, images) is removed afterwards, whatever happened.
"""

import json
import urllib.request
from collections.abc import Iterator

import pytest
from checkout_copy import Checkout, docker, make_copy, project_of

from hangar.core.contract import contract
from hangar.core.ports import spare_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def checkouts(
    provisioned: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Checkout, Checkout]]:
    parent = tmp_path_factory.mktemp("two-checkouts")
    first, second = (
        Checkout(parent / side / "hangar", spare_port(), spare_port(), spare_port())
        for side in ("first", "second")
    )
    try:
        for checkout in (first, second):
            make_copy(checkout.root)
            checkout.project = project_of(checkout)
        yield first, second
    finally:
        for checkout in (first, second):
            checkout.remove_everything()
        left = {c.project: c.leftovers() for c in (first, second) if c.project}
        assert not any(left.values()), f"left behind: {left}"


def test_the_second_checkout_never_touches_the_first(checkouts: tuple[Checkout, Checkout]) -> None:
    first, second = checkouts
    assert first.project != second.project
    assert {first.project, second.project}.isdisjoint({"hangar", contract().service_name})

    first.ok("dev", "--detach")
    before = first.containers()
    assert any(name.endswith("-localstack-1") for name in before), before
    # All running but migrate, which has applied the migrations and exited.
    assert all(running for name, (*_, running) in before.items() if "-migrate-" not in name), before
    stack = first.stack_id()

    def untouched(after: str) -> None:
        assert first.containers() == before, (
            f"the first checkout's containers changed after {after}"
        )
        assert first.stack_id() == stack, f"the first checkout's stage changed after {after}"
        assert first.web_answers()

    # Its LocalStack's port: refused in one line that names the first checkout, nothing started.
    taken = second.hangar("localstack", "up", HANGAR_LOCALSTACK_PORT=str(first.localstack_port))
    output = taken.stdout + taken.stderr
    assert taken.returncode != 0, output
    assert (
        f"port {first.localstack_port} (LocalStack) is already in use by container "
        f"{first.project}-localstack-1 (the checkout {first.root.resolve()}'s compose project "
        f"{first.project})"
    ) in output
    assert "Traceback" not in output
    assert second.containers() == {}
    untouched("the second's refused localstack up")

    second.ok("localstack", "up")  # on its own port
    assert f"{second.project}-localstack-1" in second.containers()
    untouched("the second's localstack up")

    second.ok("dev", "--detach")
    assert any(name.startswith(f"{second.project}-web") for name in second.containers())
    untouched("the second's make dev")

    run_task_port = spare_port()
    second.ok(
        "run-task", "--stage", "local", "--task", "web", "--port", str(run_task_port), "--detach"
    )
    task = f"{second.project}-run-task-web"
    networks = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", task))
    assert list(networks) == [f"{second.project}_default"]
    with urllib.request.urlopen(
        f"http://127.0.0.1:{run_task_port}{contract().health_path}", timeout=30
    ) as response:
        assert response.status == 200
    untouched("the second's make run-task")

    docker("rm", "--force", task)  # as run-task says to stop it
    second.ok("down")
    assert second.containers() == {}
    untouched("the second's make down")
