"""A lock file that serialises work between hangar processes (two test sessions, `make dev`)."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hangar.core import console
from hangar.core.paths import ROOT


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold `lock_path` for the block; say so when another process holds it and wait for it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            shown = lock_path.relative_to(ROOT) if lock_path.is_relative_to(ROOT) else lock_path
            console.info(f"waiting for another hangar process ({shown})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
