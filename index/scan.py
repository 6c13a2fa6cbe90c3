"""A full scan in slices: what it has met, what it defers to, and its progress over the slices."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragd.connectors import Connector, Entry
from ragd.index.store.catalog import FileRecord, FileStat, FileStatRow

Progress = Callable[[int, int, str], None]  # (files done, files to do, current path)


@dataclass
class Slices:
    """How a full scan gives way to other work: after ``seconds`` of walking, or once it has found ``files``
    files to (re)index, it applies what it found so far and calls ``between`` (where the daemon's writer applies
    the watcher's changes), so that a change made during a scan of a big tree waits for one slice, not the scan."""

    between: Callable[[], None]
    seconds: float = 0.25
    files: int = 64


@dataclass
class Scan:
    """A full scan in progress: the manifest as the scan began, the paths the scan has met, and the paths that
    an update between its slices judged (that judgement is newer than the scan's, so the scan defers to it)."""

    known: dict[str, FileStatRow]
    forced: bool
    seen: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)
    supported: dict[str, bool] = field(default_factory=dict)  # by suffix: one parser look-up per kind of file
    unavailable: list[Connector] = field(default_factory=list)  # sources it could not read: nothing of theirs is gone

    def stat_of(self, path: str) -> FileStat | None:
        row = None if path in self.touched else self.known.get(path)
        return None if row is None else FileStat(*row)


class Tally:
    """A scan's progress over its slices: each slice's (done, total) counted on from the slices before it."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.base = 0
        self.total = 0

    def __call__(self, done: int, total: int, path: str) -> None:
        self.total = total
        self.progress(self.base + done, self.base + total, path)

    def next_slice(self) -> None:
        self.base += self.total
        self.total = 0


def judge(entry: Entry, reason: str | None, old: FileRecord | FileStat | None, forced: bool) -> str | None:
    """"skipped" or "unchanged" when the record ``old`` already says what indexing ``entry`` would write;
    None when the file must be looked at (hashed, and parsed if its bytes changed) or its record rewritten."""
    if old is None:
        return None
    if reason is not None:
        return "skipped" if old.status == "skipped" and old.error == reason else None
    if not forced and old.size == entry.size and old.mtime_ns == entry.mtime_ns and old.status != "skipped":
        return "unchanged"
    return None


def suffix_of(path: str) -> str:
    """``Path(path).suffix.lower()``, without making a Path (a re-scan asks it of every file)."""
    name = path.rpartition(os.sep)[2]
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def unsupported_reason(path: str) -> str:
    suffix = Path(path).suffix.lower() or "(no extension)"
    return f"unsupported format {suffix}"

