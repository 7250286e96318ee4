"""How `make bench` and the e2e test judge an interrupted `make dev` (hangar.bench.interrupts)."""

import signal

import pytest

from hangar.bench.interrupts import EXIT_DEADLINE, Outcome, Plan, random_plans

SIGINT = Plan((signal.SIGINT,), 1.0)
STARTUP_TRACEBACK = """Traceback (most recent call last):
  File "<frozen runpy>", line 189, in _run_module_as_main
  File "<frozen importlib._bootstrap_external>", line 1156, in get_code
KeyboardInterrupt
"""
OUR_TRACEBACK = """web | Traceback (most recent call last):
web |   File "/work/main/scripts/hangar/devloop/devserver.py", line 120, in warm_up
web | KeyboardInterrupt
"""


@pytest.mark.parametrize("status", [0, 130, -signal.SIGINT])
def test_a_clean_exit_has_no_problem(status: int) -> None:
    assert Outcome(SIGINT, 1.0, status, [], "interrupted\n").problems() == []


@pytest.mark.parametrize(
    ("outcome", "problem"),
    [
        (Outcome(SIGINT, EXIT_DEADLINE + 1, 130, [], ""), "exited 11.0s after the signal"),
        (Outcome(SIGINT, 1.0, 130, ["pid 7: sleep"], ""), "left ['pid 7: sleep']"),
        (Outcome(SIGINT, 1.0, 130, [], OUR_TRACEBACK), "printed a traceback"),
        (Outcome(SIGINT, 1.0, 1, [], ""), "exit status 1"),
        (Outcome(SIGINT, 1.0, -signal.SIGKILL, [], ""), "exit status -9"),
    ],
)
def test_each_problem_is_named(outcome: Outcome, problem: str) -> None:
    assert outcome.problems() == [problem]


def test_cpythons_own_start_up_traceback_is_not_hangars() -> None:
    """A signal before the entry point's first line gets CPython's traceback: no code can help."""
    assert Outcome(SIGINT, 0.1, 1, [], STARTUP_TRACEBACK).problems() == []
    assert Outcome(SIGINT, 0.1, 1, ["pid 7: sleep"], STARTUP_TRACEBACK).problems() == [
        "left ['pid 7: sleep']"
    ]


def test_plans_fall_within_the_start_up_and_a_little_after() -> None:
    plans = random_plans([signal.SIGINT, signal.SIGINT], 50, start_up=4.0, seed="x")
    assert len(plans) == 50
    assert all(0 <= plan.first <= 4.8 and len(plan.then) == 1 for plan in plans)
    assert random_plans([signal.SIGINT], 5, 4.0, "x") == random_plans([signal.SIGINT], 5, 4.0, "x")
