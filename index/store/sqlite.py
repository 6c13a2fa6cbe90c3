"""Opening SQLite the same way everywhere: WAL, a busy timeout, and read-only readers."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        if not path.exists():
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            return conn
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
    else:
        _create_private(path)
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _create_private(path: Path) -> None:
    """Make a new database file 0600 (its folder 0700) whatever the umask: SQLite gives the -wal and -shm
    files the database file's mode, so the index and the history stay readable by their user alone."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
