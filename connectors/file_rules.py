"""What a files source takes (``FileFilter``) and what its scans could not read (``Unreadable``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pathspec

SYSTEM_DIRS = frozenset({
    "node_modules", "__pycache__", "venv", "site-packages", "System Volume Information", "$RECYCLE.BIN",
    "Library", "AppData", "lost+found",
})


@dataclass
class FileFilter:
    """Which files a source takes, as data: globs relative to the source root (gitignore syntax)."""

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_bytes: int = 64 * 1024 * 1024
    skip_hidden: bool = True
    _include: pathspec.GitIgnoreSpec | None = field(init=False, default=None)
    _exclude: pathspec.GitIgnoreSpec | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._include = pathspec.GitIgnoreSpec.from_lines(self.include) if self.include else None
        self._exclude = pathspec.GitIgnoreSpec.from_lines(self.exclude) if self.exclude else None

    def skip_dir(self, name: str, rel: str) -> bool:
        if self.skip_hidden and name.startswith("."):
            return True
        if name in SYSTEM_DIRS:
            return True
        return bool(self._exclude and self._exclude.match_file(rel + "/"))

    def skip_file(self, name: str, rel: str) -> bool:
        if self.skip_hidden and name.startswith("."):
            return True
        if name.endswith(("~", ".swp", ".tmp", ".part", ".crdownload")) or name.startswith("~$"):
            return True  # editor and download temporaries
        if self._exclude and self._exclude.match_file(rel):
            return True
        return bool(self._include and not self._include.match_file(rel))


class Unreadable:
    """Places inside the sources that a scan could not read (path -> reason), shared by the connectors.

    A scan of a folder replaces what was recorded below it, so a folder that became readable again
    drops out at its next scan. Thread-safe: the writer records, request threads read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[str, str] = {}

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(sorted(self._found.items()))

    def known(self, path: str) -> bool:
        with self._lock:
            return path in self._found

    def settle(self, under: str, found: Mapping[str, str]) -> None:
        """What a finished scan of ``under`` found unreadable there (and wherever its links led)."""
        with self._lock:
            self._found = {p: r for p, r in self._found.items() if not below(p, under)}
            self._found.update(found)

    def keep_under(self, roots: Iterable[str]) -> None:
        """Forget what lies outside ``roots`` (a source was removed)."""
        kept = list(roots)
        with self._lock:
            self._found = {p: r for p, r in self._found.items() if any(below(p, root) for root in kept)}



def below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
