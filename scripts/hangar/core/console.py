"""Progress output shared by every command: what step runs and how long it took."""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def info(message: str) -> None:
    print(message, flush=True)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@contextmanager
def step(title: str) -> Iterator[None]:
    """Print `title`, run the block, then print how long it took (or that it failed, and when)."""
    print(f"==> {title}", flush=True)
    started = time.monotonic()
    try:
        yield
    except BaseException:
        print(f"<== {title}: failed after {time.monotonic() - started:.1f}s", flush=True)
        raise
    print(f"<== {title}: done in {time.monotonic() - started:.1f}s", flush=True)
