"""The files connector: walks folders with include/exclude globs and .gitignore-style ignore files.

Hidden entries (dot-names) and well-known system/build folders are skipped; directories are
followed through symlinks at most once (by device and inode), so symlink loops are safe.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from ragd.connectors import Entry

log = logging.getLogger(__name__)

IGNORE_FILES = (".gitignore", ".ragdignore")
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


class FilesConnector:
    name = "files"

    def __init__(self, root: str | Path, file_filter: FileFilter | None = None,
                 on_error: Callable[[str, OSError], None] | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.filter = file_filter or FileFilter()
        self.on_error = on_error

    def covers(self, path: str) -> bool:
        return path == str(self.root) or path.startswith(str(self.root) + os.sep)

    def scan(self) -> Iterator[Entry]:
        try:
            st = os.stat(self.root)
        except OSError as exc:
            self._error(str(self.root), exc)
            return
        if stat.S_ISREG(st.st_mode):  # a single file given as a source
            yield self._entry(str(self.root), st)
            return
        yield from self._walk(self.root, "", [], {(st.st_dev, st.st_ino)})

    def entry(self, path: str) -> Entry | None:
        """The entry for one file under this source, or None if it is gone, not a file, or filtered out."""
        rel = self._rel(path)
        if rel is None:
            return None
        if not rel:  # the source is this one file
            try:
                st = os.stat(path)
            except OSError:
                return None
            return self._entry(path, st) if stat.S_ISREG(st.st_mode) else None
        parent, _, name = rel.rpartition("/")
        specs = self._specs_down_to(parent)
        if specs is None or self.filter.skip_file(name, rel) or _ignored(specs, rel):
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return self._entry(path, st) if stat.S_ISREG(st.st_mode) else None

    def scan_under(self, directory: str) -> Iterator[Entry]:
        """Every file in ``directory`` (a folder inside this source), filtered as ``scan`` would."""
        rel = self._rel(directory)
        if rel is None:
            return
        if not rel:
            yield from self.scan()
            return
        parent, _, name = rel.rpartition("/")
        specs = self._specs_down_to(parent)
        if specs is None or self.filter.skip_dir(name, rel) or _ignored(specs, rel + "/"):
            return
        try:
            st = os.stat(directory)
        except OSError:
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self._walk(Path(directory), rel, specs, {(st.st_dev, st.st_ino)})

    def _rel(self, path: str) -> str | None:
        """``path`` relative to the root with / separators; None if outside this source."""
        if not self.covers(path):
            return None
        return Path(path).relative_to(self.root).as_posix() if path != str(self.root) else ""

    def _specs_down_to(self, rel_dir: str) -> list[tuple[str, pathspec.GitIgnoreSpec]] | None:
        """The ignore specs in force inside ``rel_dir``; None if that folder or one above it is skipped."""
        specs = self._ignore_specs(self.root, "")
        here = ""
        for name in rel_dir.split("/") if rel_dir else []:
            here = f"{here}/{name}" if here else name
            if self.filter.skip_dir(name, here) or _ignored(specs, here + "/"):
                return None
            specs = specs + self._ignore_specs(self.root / here, here)
        return specs

    def _walk(self, directory: Path, rel: str, specs: list[tuple[str, pathspec.GitIgnoreSpec]],
              seen: set[tuple[int, int]]) -> Iterator[Entry]:
        specs = specs + self._ignore_specs(directory, rel)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            self._error(str(directory), exc)
            return
        for entry in entries:
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
                is_file = not is_dir and entry.is_file(follow_symlinks=True)
            except OSError as exc:
                self._error(entry.path, exc)
                continue
            if is_dir:
                if self.filter.skip_dir(entry.name, child_rel) or _ignored(specs, child_rel + "/"):
                    continue
                st = self._stat(entry)
                if st is None or (st.st_dev, st.st_ino) in seen:  # a loop, or a second way to one folder
                    continue
                seen.add((st.st_dev, st.st_ino))
                yield from self._walk(Path(entry.path), child_rel, specs, seen)
            elif is_file:
                if self.filter.skip_file(entry.name, child_rel) or _ignored(specs, child_rel):
                    continue
                st = self._stat(entry)
                if st is not None:
                    yield self._entry(entry.path, st)

    def _stat(self, entry: os.DirEntry[str]) -> os.stat_result | None:
        try:
            return entry.stat(follow_symlinks=True)
        except OSError as exc:
            self._error(entry.path, exc)
            return None

    def _entry(self, path: str, st: os.stat_result) -> Entry:
        reason = None
        if st.st_size > self.filter.max_bytes:
            reason = f"larger than the size limit ({st.st_size / 1e6:.1f} MB > {self.filter.max_bytes / 1e6:.1f} MB)"
        return Entry(path=os.path.abspath(path), size=st.st_size, mtime_ns=st.st_mtime_ns, skip_reason=reason)

    def _ignore_specs(self, directory: Path, rel: str) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
        found = []
        for name in IGNORE_FILES:
            path = directory / name
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._error(str(path), exc)
                continue
            found.append((rel, pathspec.GitIgnoreSpec.from_lines(lines)))
        return found

    def _error(self, path: str, exc: OSError) -> None:
        log.warning("cannot read %s: %s", path, exc.strerror or exc)
        if self.on_error:
            self.on_error(path, exc)


def _ignored(specs: list[tuple[str, pathspec.GitIgnoreSpec]], rel: str) -> bool:
    for base, spec in specs:
        if base:
            if not rel.startswith(base + "/"):
                continue
            sub = rel[len(base) + 1 :]
        else:
            sub = rel
        if spec.match_file(sub):
            return True
    return False
