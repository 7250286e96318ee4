"""Ctrl-C, SIGTERM and a second Ctrl-C at random moments of `hangar dev`'s start-up in host mode:
every session exits within 10 s, without a traceback, and leaves no process behind.

The moments are drawn between the start and a little after the first answer of /healthz (measured
here first), so they fall in every phase: the imports, the migrations, the children's start, the
dev server's warm-up and the following of its output. hangar.bench.interrupts is the procedure;
`make bench` runs it 30 times per mode (docker mode too) with a busy loop on every core.
"""

import signal
from pathlib import Path

import pytest
from hostdev import host_env

from hangar.bench import interrupts
from hangar.core import ports

pytestmark = [pytest.mark.e2e, pytest.mark.without_docker]


@pytest.mark.parametrize(
    ("signals", "count"),
    [([signal.SIGINT], 8), ([signal.SIGTERM], 3), ([signal.SIGINT, signal.SIGINT], 3)],
    ids=["SIGINT", "SIGTERM", "a second Ctrl-C"],
)
def test_an_interrupted_start_exits_in_time_and_leaves_nothing(
    tmp_path: Path, signals: list[int], count: int
) -> None:
    """Before hangar.devloop.children.Session, a signal between the first child's start and the
    supervision left the children running and `hangar dev` waiting on their output for ever (CI,
    2026-12-06); a Ctrl-C during the imports printed a traceback."""
    dev = host_env(tmp_path)
    # One SQLite database for every attempt: after the first, the migrations are quick, as in a
    # developer's second `make dev`, and the moments spread over the rest of the start-up.
    arguments = ["dev", "--without-aws"]
    healthz = f"http://127.0.0.1:{dev.web_port}/healthz"
    start_up = interrupts.seconds_until(healthz, arguments, dev.env)
    plans = interrupts.random_plans(signals, count, start_up, seed=signals)
    failures = []
    for plan in plans:
        outcome = interrupts.attempt(arguments, dev.env, plan)
        if outcome.problems():
            failures.append(outcome.describe())
        assert not list((tmp_path / "dev").glob("*.pid")), outcome.describe()
        assert ports.is_free(dev.web_port), outcome.describe()
        assert ports.is_free(dev.debug_port), outcome.describe()
    assert not failures, "\n\n".join(failures)
