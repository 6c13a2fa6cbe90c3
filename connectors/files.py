"""The files connector: walks folders with include/exclude globs and .gitignore-style ignore files.

Hidden entries (dot-names) and well-known system/build folders are skipped. Symbolic links are
judged by where they lead (``follow_symlinks``): with "inside" (the default) a link is followed only
when its target lies inside a configured source, and then its target is taken exactly as that source
takes it: under its real path (so a file reached directly and through links is indexed once) and only
if that source's hidden/ignore rules admit the target's own path. "never" follows no link; "always"
also follows links that lead elsewhere, keeping the link's path as the file's name. A link that is not
followed and leads outside every source is listed as skipped, so its absence is explained. Folders are
entered at most once per scan (by device and inode), so link loops are safe. Only regular files are
ever yielded (a FIFO, socket or device is skipped: opening a FIFO would block).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import pathspec

from ragd.connectors import FILES, Connector, Entry, SourceContext, is_url
from ragd.connectors.file_rules import FileFilter, Unreadable, below
from ragd.index.errors import SourceError
from ragd.index.paths import resolve_path

log = logging.getLogger(__name__)

IGNORE_FILES = (".gitignore", ".ragdignore")
IGNORE_FILE_MAX = 1 << 20  # bytes read from one ignore file
FollowMode = Literal["inside", "never", "always"]
FOLLOW_MODES: tuple[FollowMode, ...] = ("inside", "never", "always")
_QUIET_ERRORS = (errno.ENOENT, errno.ENOTDIR)  # vanished during the scan: not a problem to report

Specs = list[tuple[str, pathspec.GitIgnoreSpec]]


@dataclass
class _Walk:
    """One scan's state: the folders entered and files yielded (each once), and what could not be read."""

    dirs: set[tuple[int, int]] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    outside: set[tuple[int, int]] = field(default_factory=set)  # files reached by name outside the sources
    errors: dict[str, str] = field(default_factory=dict)


class FilesConnector:
    kind: ClassVar[str] = FILES
    schemes: ClassVar[tuple[str, ...]] = ()
    poll_s: float | None = None  # a folder's changes come from the watcher, not by polling

    def __init__(self, root: str | Path, file_filter: FileFilter | None = None,
                 on_error: Callable[[str, OSError], None] | None = None, *, sources: Iterable[str | Path] = (),
                 follow_symlinks: FollowMode | str = "inside", unreadable: Unreadable | None = None) -> None:
        """``sources``: every configured source root (this one is always among them): a link is "inside"
        when its target lies in one of them. ``unreadable`` collects the folders a scan could not read."""
        if follow_symlinks not in FOLLOW_MODES:
            raise ValueError(f"follow_symlinks must be one of {', '.join(FOLLOW_MODES)}, not {follow_symlinks!r}")
        self.root = resolve_path(root)
        self.filter = file_filter or FileFilter()
        self.on_error = on_error
        self.follow: FollowMode = follow_symlinks  # narrowed by the check above
        self.unreadable = unreadable
        roots = {self.root, *(resolve_path(s) for s in sources)}
        self.sources = tuple(sorted(roots, key=len, reverse=True))  # the innermost source first
        self._siblings: dict[str, FilesConnector] = {self.root: self}

    @classmethod
    def open(cls, spec: str, context: SourceContext) -> Connector:
        s = context.settings
        return cls(spec, FileFilter(include=s.include, exclude=s.exclude, max_bytes=int(s.max_file_mb * 1024 * 1024)),
                   sources=[p for p in context.sources if not is_url(p)], follow_symlinks=s.follow_symlinks,
                   unreadable=context.unreadable)

    def probe(self) -> None:
        if not os.path.exists(self.root):
            raise SourceError(f"no such file or directory: {self.root}")

    def covers(self, path: str) -> bool:
        return below(path, self.root)

    def is_container(self, key: str) -> bool:
        return os.path.isdir(key)

    def read(self, key: str) -> bytes:
        """The file's bytes (regular files only, opened without blocking: a FIFO would hang the reader)."""
        fd = os.open(key, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file", key)
            return f.read()

    def local_path(self, key: str) -> str | None:
        return key

    def changed(self) -> bool:
        return False

    def close(self) -> None:
        pass

    # -- the Connector protocol -----------------------------------------------------------------
    def scan(self) -> Iterator[Entry]:
        walk = _Walk()
        yield from self._scan(walk)
        self._settle(self.root, walk)

    def entry(self, path: str) -> Entry | None:
        """The entry for one file under this source, or None if it is gone, not a file, or filtered out.

        Judged as ``scan`` would: the path as named must pass this source's rules, and every link on
        the way is followed (or not) by the ``follow_symlinks`` rule, the target judged by its own source.
        """
        rel = self._rel(path)
        if rel is None:
            return None
        if not rel:  # the source is this one file (the root is resolved: not a link)
            st = _stat(path)
            return self._entry(path, st) if st is not None and stat.S_ISREG(st.st_mode) else None
        parent, _, name = rel.rpartition("/")
        specs = self._specs_down_to(parent)
        if specs is None or self.filter.skip_file(name, rel) or _ignored(specs, rel):
            return None
        via = self._through_links(path, rel)
        if via is None or isinstance(via, Entry):
            return via
        owner, real = via
        if owner is not self or real != path:
            return owner.entry(real)
        st = _stat(path)
        return self._entry(path, st) if st is not None and stat.S_ISREG(st.st_mode) else None

    def scan_under(self, directory: str) -> Iterator[Entry]:
        """Every file in ``directory`` (a folder inside this source), filtered as ``scan`` would."""
        if self._rel(directory) is None:
            return
        walk = _Walk()
        yield from self._scan_under(directory, walk)
        self._settle(directory, walk)

    # -- walking --------------------------------------------------------------------------------
    def _scan(self, walk: _Walk) -> Iterator[Entry]:
        try:
            st = os.stat(self.root)
        except OSError as exc:
            self._error(self.root, exc, walk)
            return
        if stat.S_ISREG(st.st_mode):  # a single file given as a source
            yield from _once(self._entry(self.root, st), walk)
        elif stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) not in walk.dirs:
            walk.dirs.add((st.st_dev, st.st_ino))
            yield from self._walk(Path(self.root), "", [], walk)

    def _scan_under(self, directory: str, walk: _Walk) -> Iterator[Entry]:
        rel = self._rel(directory)
        if rel is None:
            return
        if not rel:
            yield from self._scan(walk)
            return
        parent, _, name = rel.rpartition("/")
        specs = self._specs_down_to(parent)
        if specs is None or self.filter.skip_dir(name, rel) or _ignored(specs, rel + "/"):
            return
        via = self._through_links(directory, rel)
        if via is None or isinstance(via, Entry):
            if via is not None:
                yield from _once(via, walk)
            return
        owner, real = via
        if owner is not self or real != directory:
            yield from owner._scan_under(real, walk)
            return
        st = _stat(directory)
        if st is not None and stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) not in walk.dirs:
            walk.dirs.add((st.st_dev, st.st_ino))
            yield from self._walk(Path(directory), rel, specs, walk)

    def _walk(self, directory: Path, rel: str, specs: Specs, walk: _Walk) -> Iterator[Entry]:
        # The hot loop of a re-scan (every file of every source): plain strings, no Path objects, no
        # abspath (the folder is absolute and normal, so ``entry.path`` is too), ignore rules only when some apply.
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=_name)
        except OSError as exc:
            self._error(str(directory), exc, walk)
            return
        present = {e.name for e in entries}
        specs = specs + self._ignore_specs(directory, rel, walk, [n for n in IGNORE_FILES if n in present])
        prefix = f"{rel}/" if rel else ""
        skip_file = self.filter.skip_file
        for entry in entries:
            child_rel = prefix + entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = not is_link and entry.is_dir(follow_symlinks=False)
                is_file = not is_link and not is_dir and entry.is_file(follow_symlinks=False)  # FIFOs etc.: neither
            except OSError as exc:
                self._error(entry.path, exc, walk)
                continue
            if is_link:
                yield from self._follow(entry, child_rel, specs, walk)
            elif is_dir:
                if self.filter.skip_dir(entry.name, child_rel) or _ignored(specs, child_rel + "/"):
                    continue
                st = self._stat(entry, walk)
                if st is None or (st.st_dev, st.st_ino) in walk.dirs:  # a second way to one folder
                    continue
                walk.dirs.add((st.st_dev, st.st_ino))
                yield from self._walk(Path(entry.path), child_rel, specs, walk)
            elif is_file:
                if skip_file(entry.name, child_rel) or (specs and _ignored(specs, child_rel)):
                    continue
                st = self._stat(entry, walk)
                if st is not None and entry.path not in walk.paths:  # as ``_once``, inline: once per file
                    walk.paths.add(entry.path)
                    yield self._make(entry.path, st)

    def _follow(self, link: os.DirEntry[str], rel: str, specs: Specs, walk: _Walk) -> Iterator[Entry]:
        """A link met during a walk: its own name must pass this source's rules, its target those of
        the source that holds it (or, with "always", the hidden rule on its real path)."""
        target = _stat(link.path)
        if target is None or not (stat.S_ISDIR(target.st_mode) or stat.S_ISREG(target.st_mode)):
            log.debug("skipping %s: a broken link, or a link to something other than a file or folder", link.path)
            return
        is_dir = stat.S_ISDIR(target.st_mode)
        if is_dir and (self.filter.skip_dir(link.name, rel) or _ignored(specs, rel + "/")):
            return
        if not is_dir and (self.filter.skip_file(link.name, rel) or _ignored(specs, rel)):
            return
        real = os.path.realpath(link.path)
        owner = self._owner(real)
        if owner is not None and self.follow != "never":
            if is_dir:
                yield from owner._scan_under(real, walk)
            elif (found := owner.entry(real)) is not None:
                yield from _once(found, walk)
        elif owner is None and self.follow == "always":
            if self._hidden(real):
                return
            key = (target.st_dev, target.st_ino)
            if is_dir and key not in walk.dirs:
                walk.dirs.add(key)
                yield from self._walk(Path(link.path), rel, specs, walk)
            elif not is_dir and key not in walk.outside:
                walk.outside.add(key)
                yield from _once(self._entry(link.path, target), walk)
        elif owner is None:
            refused = self._refused(link.path, is_dir)
            if refused is not None:
                yield from _once(refused, walk)

    def _through_links(self, path: str, rel: str) -> tuple[FilesConnector, str] | Entry | None:
        """Where ``path`` (``rel`` below this root) really leads, judging each link on the way as a walk would:
        (the connector to ask, the path to ask it) -- this one and ``path`` itself when no link is followed
        elsewhere -- or a refused link's skipped entry, or None (refused, or gone)."""
        here = self.root
        parts = rel.split("/")
        for i, part in enumerate(parts):
            here = os.path.join(here, part)
            try:
                if not stat.S_ISLNK(os.lstat(here).st_mode):
                    continue
            except OSError:
                return None
            rest = parts[i + 1 :]
            real = os.path.realpath(here)
            owner = self._owner(real)
            if owner is not None and self.follow != "never":
                return owner, os.path.join(real, *rest)
            if owner is None and self.follow == "always":
                if self._hidden(real):
                    return None
                continue  # followed under its own name; the walk's rules were checked on the names
            if owner is None and not rest:
                target = _stat(here)
                if target is not None and (stat.S_ISDIR(target.st_mode) or stat.S_ISREG(target.st_mode)):
                    return self._refused(here, stat.S_ISDIR(target.st_mode))
            return None
        return self, path

    def _owner(self, real: str) -> FilesConnector | None:
        """The connector of the innermost configured source that holds ``real`` (a resolved path)."""
        root = next((r for r in self.sources if below(real, r)), None)
        if root is None:
            return None
        sibling = self._siblings.get(root)
        if sibling is None:
            sibling = FilesConnector(root, self.filter, self.on_error, sources=self.sources,
                                     follow_symlinks=self.follow, unreadable=self.unreadable)
            self._siblings[root] = sibling
        return sibling

    def _hidden(self, real: str) -> bool:
        """With "always": a target outside the sources is refused if any part of its real path is hidden."""
        return self.filter.skip_hidden and any(part.startswith(".") for part in Path(real).parts)

    def _refused(self, link: str, is_dir: bool) -> Entry | None:
        """A link left unfollowed that leads outside every source: listed as skipped, with why."""
        try:
            lst = os.lstat(link)
        except OSError:
            return None
        what = "a folder" if is_dir else "a file"
        if self.follow == "never":
            reason = f'a link to {what} outside the sources: links are not followed (follow_symlinks = "never")'
        else:
            reason = f"a link to {what} outside the sources: not followed (add its target as a source, " \
                     'or set follow_symlinks = "always")'
        return Entry(path=os.path.abspath(link), size=0, mtime_ns=lst.st_mtime_ns, skip_reason=reason)

    # -- helpers ---------------------------------------------------------------------------------
    def _rel(self, path: str) -> str | None:
        """``path`` relative to the root with / separators; None if outside this source."""
        if not self.covers(path):
            return None
        return Path(path).relative_to(self.root).as_posix() if path != self.root else ""

    def _specs_down_to(self, rel_dir: str) -> Specs | None:
        """The ignore specs in force inside ``rel_dir``; None if that folder or one above it is skipped."""
        specs = self._ignore_specs(Path(self.root), "")
        here = ""
        for name in rel_dir.split("/") if rel_dir else []:
            here = f"{here}/{name}" if here else name
            if self.filter.skip_dir(name, here) or _ignored(specs, here + "/"):
                return None
            specs = specs + self._ignore_specs(Path(self.root) / here, here)
        return specs

    def _stat(self, entry: os.DirEntry[str], walk: _Walk) -> os.stat_result | None:
        try:
            return entry.stat(follow_symlinks=False)
        except OSError as exc:
            self._error(entry.path, exc, walk)
            return None

    def _entry(self, path: str, st: os.stat_result) -> Entry:
        return self._make(os.path.abspath(path), st)

    def _make(self, path: str, st: os.stat_result) -> Entry:
        """The entry of ``path``, already absolute and normal."""
        reason = None
        if st.st_size > self.filter.max_bytes:
            reason = f"larger than the size limit ({st.st_size / 1e6:.1f} MB > {self.filter.max_bytes / 1e6:.1f} MB)"
        return Entry(path, st.st_size, st.st_mtime_ns, reason)

    def _ignore_specs(self, directory: Path, rel: str, walk: _Walk | None = None,
                      names: Sequence[str] = IGNORE_FILES) -> Specs:
        found = []
        for name in names:
            path = directory / name
            try:
                text = _read_regular(str(path), IGNORE_FILE_MAX)
            except OSError as exc:
                if exc.errno not in _QUIET_ERRORS:
                    self._error(str(path), exc, walk)
                continue
            if text is not None:
                found.append((rel, pathspec.GitIgnoreSpec.from_lines(text.splitlines())))
        return found

    def _error(self, path: str, exc: OSError, walk: _Walk | None = None) -> None:
        known = self.unreadable is not None and self.unreadable.known(path)
        log.log(logging.DEBUG if known else logging.WARNING, "cannot read %s: %s", path, exc.strerror or exc)
        if walk is not None and exc.errno not in _QUIET_ERRORS:
            walk.errors[path] = (exc.strerror or str(exc)).lower()
        if self.on_error:
            self.on_error(path, exc)

    def _settle(self, under: str, walk: _Walk) -> None:
        if self.unreadable is not None:
            self.unreadable.settle(under, walk.errors)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:  # gone, a broken link or a link loop, or unreadable
        return None


def _once(entry: Entry, walk: _Walk) -> Iterator[Entry]:
    """Yield ``entry`` unless this scan already did (one file reached directly and through links)."""
    if entry.path not in walk.paths:
        walk.paths.add(entry.path)
        yield entry


def _read_regular(path: str, limit: int) -> str | None:
    """The text of ``path`` if it is a regular file (None otherwise), without blocking on a FIFO."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read(limit).decode("utf-8", errors="replace")


def _ignored(specs: Specs, rel: str) -> bool:
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
