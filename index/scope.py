"""Scoped questions: which of the indexed files a search or a question may draw on.

A ``Scope`` narrows by place (a folder, a path glob, or a folder name anywhere), by type (file extensions, or
a kind such as ``spreadsheet``), by modified time, and to named files (whole-document requests). It is turned
into SQL over the manifest (``files``) once, and both retrievers take it: the lexical search as a condition on
its match, the vector search as the set of vectors it may return. A scoped search never post-filters a top-k
that was too small.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ragd.index.errors import RagdError

# Kinds of file a person names rather than their extensions. "mail" also takes a mailbox's messages (IMAP keys).
TYPE_GROUPS: dict[str, tuple[str, ...]] = {
    "text": ("txt", "text"),
    "markdown": ("md", "markdown"),
    "word": ("docx", "odt", "rtf"),
    "spreadsheet": ("xlsx", "xlsm", "xlsb", "xls", "ods", "csv", "tsv"),
    "slides": ("pptx", "odp"),
    "image": ("png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "gif"),
    "mail": ("eml", "mbox"),
    "code": ("py", "js", "ts", "go", "rs", "java", "c", "h", "cpp", "rb", "sh"),
    "notebook": ("ipynb",),
    "ebook": ("epub",),
}
MAIL_URLS = ("imap://*", "imaps://*")
GLOB_CHARS = re.compile(r"[*?\[]")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([hdwmy])$")  # 7d, 2w, 36h, 1m (30 days), 1y
_UNIT_S = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "m": 30 * 86400.0, "y": 365 * 86400.0}


class ScopeError(RagdError):
    """A filter that cannot be understood (a date, a type)."""


@dataclass(frozen=True)
class Scope:
    within: tuple[str, ...] = ()  # absolute folders or files, path globs, or folder names (any of them)
    types: tuple[str, ...] = ()  # extensions without the dot, lower case (any of them)
    since: float | None = None  # modified at or after (epoch seconds)
    until: float | None = None  # modified before
    paths: tuple[str, ...] = ()  # exactly these files (whole-document requests)

    def __bool__(self) -> bool:
        return bool(self.within or self.types or self.paths) or self.since is not None or self.until is not None

    def to_json(self) -> dict[str, Any]:
        return {"in": list(self.within), "type": list(self.types), "since": _iso(self.since),
                "until": _iso(self.until), "files": list(self.paths)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Scope:
        if not data:
            return cls()
        return scope_of(within=data.get("in") or (), types=data.get("type") or (), since=data.get("since"),
                        until=data.get("until"), paths=data.get("files") or (), known_types=False)

    def describe(self) -> str:
        """For a person: ``in ~/taxes, type pdf, since 2024-01-01``."""
        said = []
        if self.paths:
            said.append("files " + ", ".join(self.paths))
        if self.within:
            said.append("in " + ", ".join(self.within))
        if self.types:
            said.append("type " + ", ".join(self.types))
        if self.since is not None:
            said.append(f"since {_iso(self.since)}")
        if self.until is not None:
            said.append(f"until {_iso(self.until)}")
        return "; ".join(said)

    def sql(self, path: str = "f.path", mtime_ns: str = "f.mtime_ns") -> tuple[str, list[object]]:
        """A condition over the manifest's columns (``path`` and ``mtime_ns`` named as given) and its parameters."""
        where: list[str] = []
        params: list[object] = []
        if self.paths:
            where.append(f"{path} IN ({','.join('?' * len(self.paths))})")
            params += list(self.paths)
        if self.within:
            either: list[str] = []
            for place in self.within:
                clause, args = _place_sql(place, path)
                either.append(clause)
                params += args
            where.append("(" + " OR ".join(either) + ")")
        if self.types:
            either = [f"lower({path}) GLOB ?" for _ in self.types]
            params += [f"*.{t}" for t in self.types]
            if "eml" in self.types or "mbox" in self.types:
                either += [f"{path} GLOB ?" for _ in MAIL_URLS]
                params += list(MAIL_URLS)
            where.append("(" + " OR ".join(either) + ")")
        if self.since is not None:
            where.append(f"{mtime_ns} >= ?")
            params.append(_ns(self.since))
        if self.until is not None:
            where.append(f"{mtime_ns} < ?")
            params.append(_ns(self.until))
        return (" AND ".join(where) or "1"), params


def _place_sql(place: str, path: str) -> tuple[str, list[object]]:
    if place.rstrip("/") == "" and place:
        return f"{path} GLOB ?", ["/*"]  # the root: every file
    literal = place.startswith("/") and os.path.exists(place)  # a folder named "Photos [2020]" is no glob
    if GLOB_CHARS.search(place) and not literal:
        if place.startswith("/") or "://" in place:
            return f"{path} GLOB ?", [place]
        return f"({path} GLOB ? OR {path} GLOB ?)", [place, "*/" + place]  # a relative glob matches anywhere below
    if place.startswith("/") or "://" in place:
        root = place.rstrip("/") or "/"
        return f"({path} = ? OR ({path} >= ? AND {path} < ?))", [root, root + "/", root + "0"]  # '0' follows '/'
    name = place.strip("/")
    return f"({path} GLOB ? OR {path} GLOB ?)", [f"*/{name}/*", f"*/{name}"]  # a folder (or file) of that name


def _ns(at: float) -> int:
    return max(-(2**63), min(2**63 - 1, int(at * 1e9)))  # SQLite's integers


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    try:
        return datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):  # a span back past year 1
        return datetime(1, 1, 1, tzinfo=UTC).isoformat(timespec="seconds")


def parse_when(text: str, *, now: float | None = None, end: bool = False) -> float:
    """A point in time from what a person types: ``2024-03-01``, ``2024-03-01T12:00``, ``2024-03``, ``2024``,
    ``today``, ``yesterday``, or a span back from now (``7d``, ``2w``, ``36h``, ``3m``, ``1y``). A date alone means
    its start, or with ``end`` the start of the next day (month, year), so ``--until 2024-03`` takes all of March.
    Dates without a zone are the machine's local time."""
    raw = text.strip().lower()
    current = time.time() if now is None else now
    if not raw:
        raise ScopeError("an empty date")
    rel = _RELATIVE.match(raw)
    if rel:
        return current - float(rel.group(1)) * _UNIT_S[rel.group(2)]
    if raw in ("today", "yesterday"):
        day = datetime.fromtimestamp(current).date() - timedelta(days=raw == "yesterday")
        return _day_start(day + timedelta(days=1) if end else day)
    try:
        if re.fullmatch(r"\d{4}", raw):
            year = int(raw)
            return _day_start(date(year + end, 1, 1))
        if re.fullmatch(r"\d{4}-\d{2}", raw):
            year, month = (int(p) for p in raw.split("-"))
            if end:
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return _day_start(date(year, month, 1))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = date.fromisoformat(raw)
            return _day_start(day + timedelta(days=1) if end else day)
        return datetime.fromisoformat(text.strip()).timestamp()
    except (ValueError, OverflowError):
        raise ScopeError(f"not a date: {text!r} (try 2024-03-01, 2024-03, today, 7d or 2w)") from None


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day).timestamp()


def parse_types(names: Sequence[str], *, known_types: bool = True) -> tuple[str, ...]:
    """Extensions from what a person types: ``pdf``, ``.md``, ``pdf,docx``, or a kind (``spreadsheet``).
    With ``known_types``, an extension no installed parser reads is an error rather than a filter that can
    match nothing."""
    out: list[str] = []
    for name in names:
        for piece in str(name).split(","):
            t = piece.strip().lower().lstrip(".")
            if not t:
                continue
            if not re.fullmatch(r"[a-z0-9_+-]{1,16}", t):
                raise ScopeError(f"not a file type: {piece!r} (an extension such as pdf, or one of "
                                 f"{', '.join(TYPE_GROUPS)})")
            if known_types and t not in TYPE_GROUPS:
                _check_read(t)
            for ext in TYPE_GROUPS.get(t, (t,)):
                if ext not in out:
                    out.append(ext)
    return tuple(out)


def _check_read(ext: str) -> None:
    from ragd.index.parse import registered_suffixes  # the parsers, plugins included (loaded on first use)

    read = [s.lstrip(".") for s in registered_suffixes()]
    if ext in read:
        return
    near = difflib.get_close_matches(ext, [*read, *TYPE_GROUPS], n=3)
    hint = (f"did you mean {' or '.join(near)}?" if near
            else f"an extension such as pdf, or one of {', '.join(TYPE_GROUPS)}")
    raise ScopeError(f"ragd reads no files of type {ext!r} ({hint})")


def scope_of(*, within: Sequence[str] = (), types: Sequence[str] = (), since: str | float | None = None,
             until: str | float | None = None, paths: Sequence[str] = (), now: float | None = None,
             known_types: bool = True) -> Scope:
    """A scope from a request's fields (strings as a person or a client sends them). ``known_types=False``
    takes any extension (a scope stored by an earlier run, when a plugin's parser may since have gone)."""
    start = _when(since, now, end=False)
    stop = _when(until, now, end=True)
    if start is not None and stop is not None and stop <= start:
        raise ScopeError("`until` is not after `since`")
    places = tuple(os.path.expanduser(p.strip()) for p in within if str(p).strip())
    if any("\x00" in p for p in (*places, *paths)):
        raise ScopeError("a path with a NUL character")
    return Scope(within=places, types=parse_types(types, known_types=known_types), since=start, until=stop,
                 paths=tuple(str(p) for p in paths))


def _when(value: str | float | None, now: float | None, *, end: bool) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_when(str(value), now=now, end=end)
