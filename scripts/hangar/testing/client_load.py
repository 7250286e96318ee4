"""Load for end-to-end tests, Hangar's and a project's: HTTP clients in threads, each repeating a
request until the block ends.

Hangar's rolling replace counts what a steady load gets while a task is replaced; a project's
outage tests can record what its clients get while a dependency is paused.
"""

import threading
import time
from collections.abc import Callable
from typing import Self

import urllib3


class ClientThreads:
    """`clients` threads calling `request_once` in a loop from `with` until the block ends."""

    def __init__(self, clients: int, timeout: float) -> None:
        self.timeout = timeout
        self.http = urllib3.PoolManager(maxsize=clients, timeout=timeout, retries=False)
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop) for _ in range(clients)]

    def request_once(self) -> None:
        """One client request and its bookkeeping (and any pause before the next)."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.request_once()

    def __enter__(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(self.timeout + 5)  # a request in flight ends within its timeout


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.5)
