"""The single-writer lock: one process at a time may write the index."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from ragd.index.errors import RagdError
from ragd.index.private import open_private, private_dir


class WriterLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        self._fd = hold_lock(self.path, "another ragd process (pid {holder}) is writing the index; "
                                        "try again when it is done")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def hold_lock(path: Path, busy: str) -> int:
    """Lock the file at ``path`` (made 0600 in a private folder; never through a link) and write our pid
    in it; returns its fd, to close when done. ``busy``, with ``{holder}`` for the pid that holds the lock,
    is the error when another process has it."""
    private_dir(path.parent)
    fd = open_private(path, os.O_RDWR | os.O_CREAT)  # refuses a planted link before anything is written
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise RagdError(busy.format(holder=holder)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd
