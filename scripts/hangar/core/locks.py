"""What lets hangar processes (two test sessions, `make dev`, parallel test workers) share the
checkout's state: a lock that serialises work, and files replaced whole."""

import fcntl
import os
import stat
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


def write_atomically(path: Path, text: str, *, mode: int | None = None) -> None:
    """Make `path` hold `text` (with permissions `mode`), unless it already does, by replacing it
    whole.

    Other processes read these files while one rewrites them (.hangar/compose.env, local.env, the
    stand-in Dockerfile): they must see the old content or the new, never a truncated file.
    """
    if (
        path.exists()
        and path.read_text() == text
        and (mode is None or stat.S_IMODE(path.stat().st_mode) == mode)
    ):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    scratch.unlink(missing_ok=True)  # a crashed writer's leftover: O_EXCL below sets the mode
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    descriptor = os.open(scratch, flags, 0o666 if mode is None else mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(scratch, path)
