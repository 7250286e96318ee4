"""Ctrl-C, SIGTERM and a second Ctrl-C during a docker-mode `hangar dev` start-up (issue #28): the
session exits within 10 s and leaves no process, container or network, nor a volume it created.

Each attempt starts in a compose project that has no volume yet (the interrupted attempt before
took its own away), so each is a first start: the database initialising its volume, the images
built by the first. The signal comes in a phase named by the start-up's output, not at a time,
so a loaded machine moves the moment but not the phase. The deploy itself is left out here: an
interrupted CDK synthesis would leave this checkout's cdk.out half-written under the tests beside
it (tests/e2e/test_deploy_local_interrupted.py covers it, in a copy of the checkout). `make bench`
(`--only interrupts-docker`) draws 30 moments over the whole start-up with a busy loop per core.

Before the teardown killed what holds nothing and the compose CLI's whole process group, the
interrupted start-up's `compose down` stopped one dependency level after another, each with its
grace period (up to 32.5 s under load), and left the volumes the start-up had created.
"""

import signal

import pytest

from hangar.bench import interrupts
from hangar.bench.run import docker_dev_session

pytestmark = pytest.mark.e2e

SIGINT, SIGTERM = signal.SIGINT, signal.SIGTERM
PLANS = [
    interrupts.Plan((SIGINT,), 0.5, after_line="LocalStack (docker mode)"),
    interrupts.Plan((SIGTERM,), 0.2, after_line="Start web and worker"),
    interrupts.Plan((SIGINT,), 1.0, after_line="Wait until web's /healthz"),
    interrupts.Plan((SIGINT, SIGINT), 1.0, (0.3,), after_line="Wait until web's /healthz"),
]


def test_an_interrupted_docker_start_is_taken_down_in_time_and_leaves_nothing() -> None:
    failures = []
    with docker_dev_session() as (env, left):
        for plan in PLANS:
            outcome = interrupts.attempt(["dev"], env, plan, left)
            assert plan.after_line in outcome.output, outcome.describe()
            assert "interrupted during the start-up" in outcome.output, outcome.describe()
            if outcome.problems():
                failures.append(f"{plan.after_line!r}: {outcome.describe()}")
    assert not failures, "\n\n".join(failures)
