"""A circuit breaker per AWS dependency: once its attempts keep failing, calls to it fail at once.

Closed: every attempt goes out; `failures_to_open` failed attempts in a row (no answer, a timeout,
a 5xx or a throttling answer) open it. Open: attempts are refused with `CircuitOpen`, a
`DependencyUnavailable` that the views answer with 503 and Retry-After, without waiting for a
timeout. After `open_seconds` the next attempt first probes the endpoint (`probe`: in config.aws
an HTTP request with a short timeout, which anything answering HTTP passes) while the others are
still refused: an answer closes the breaker and the attempt goes out, silence opens it for another
period. So during an outage no request waits longer than the probe, and the first request after
the dependency returns succeeds within `open_seconds` plus the probe.

Not pybreaker: it guards a call by wrapping it, while botocore's attempts reach us through its
event hooks (one before each attempt, one after), and it holds its lock for the whole call, which
would serialize every S3 call of a gunicorn process behind the slowest.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from config.dependencies import DependencyUnavailable

logger = logging.getLogger(__name__)


class CircuitOpen(DependencyUnavailable):
    """Refused without an attempt: the dependency's last attempts failed."""

    def __init__(self, dependency: str, last_failure: Exception) -> None:
        super().__init__(dependency, last_failure)
        self.args = (
            f"{dependency} unavailable: circuit open, calls fail at once (last failure: "
            f"{type(last_failure).__name__}: {last_failure})",
        )


@dataclass
class Breaker:
    dependency: str
    failures_to_open: int
    open_seconds: float
    probe: Callable[[], bool]  # True when the endpoint answers
    clock: Callable[[], float] = time.monotonic
    failures: int = field(default=0, init=False)
    opened_at: float | None = field(default=None, init=False)
    probing: bool = field(default=False, init=False)
    last_failure: Exception | None = field(default=None, init=False)
    lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def before_attempt(self) -> None:
        """Return when the attempt may go out; raise CircuitOpen when it may not."""
        with self.lock:
            if self.opened_at is None:
                return
            if self.probing or self.clock() - self.opened_at < self.open_seconds:
                raise self._refusal()
            self.probing = True  # this caller probes; the others are refused meanwhile
        answered = False
        try:
            answered = self.probe()
        finally:
            with self.lock:
                self.probing = False
                if answered:
                    self._close()
                else:
                    self.opened_at = self.clock()
        if not answered:
            raise self._refusal()

    def record(self, failure: Exception | None) -> None:
        """The outcome of an attempt that went out: `failure` when the dependency did not serve."""
        with self.lock:
            if failure is None:
                if self.failures or self.opened_at is not None:
                    self._close()
                return
            self.failures += 1
            self.last_failure = failure
            if self.opened_at is None and self.failures >= self.failures_to_open:
                self.opened_at = self.clock()
                logger.warning(
                    "%s circuit opened after %d failed attempts in a row (last: %s: %s); calls "
                    "fail at once, a probe every %g s until it answers",
                    self.dependency,
                    self.failures,
                    type(failure).__name__,
                    failure,
                    self.open_seconds,
                )

    def _close(self) -> None:
        if self.opened_at is not None:
            logger.info("%s circuit closed: the endpoint answers again", self.dependency)
        self.failures = 0
        self.opened_at = None
        self.last_failure = None

    def _refusal(self) -> CircuitOpen:
        cause = self.last_failure or RuntimeError("circuit open")
        return CircuitOpen(self.dependency, cause)
