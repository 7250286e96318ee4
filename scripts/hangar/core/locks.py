"""What lets hangar processes (two test sessions, `make dev`, parallel test workers) share the
checkout's state: a lock that serialises work, and files replaced whole."""

import fcntl
import os
import threading
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


def write_atomically(path: Path, text: str) -> None:
    """Make `path` hold `text`, unless it already does, by replacing it whole.

    Other processes read these files while one rewrites them (.hangar/compose.env, the stand-in
    Dockerfile): they must see the old content or the new, never a truncated file.
    """
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    scratch.write_text(text)
    os.replace(scratch, path)
