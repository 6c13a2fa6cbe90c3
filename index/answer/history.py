"""A local history of questions, answers and their citations: one SQLite file (WAL) in the data dir.

```toml
[history]
enabled = true        # RAGD_HISTORY=off (or 0/false) turns it off, =on turns it on
retention_days = 0    # drop entries older than this when a new one is saved; 0 = keep forever
```
"""

from __future__ import annotations

import json
import sqlite3
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from ragd.index.answer.followup import Turn
from ragd.index.answer.models import Answer
from ragd.index.errors import RagdError
from ragd.index.store.sqlite import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused, so `ragd history show N` stays stable
    time REAL NOT NULL,                    -- UTC epoch seconds
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    grounded INTEGER NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    citations TEXT NOT NULL DEFAULT '[]',  -- JSON list of Citation.to_json()
    timings TEXT NOT NULL DEFAULT '{}',    -- JSON object, seconds
    sentences TEXT NOT NULL DEFAULT '[]',  -- JSON list of Sentence.to_json() (added later: see _db)
    conversation TEXT,                     -- the conversation's id (added later)
    searched TEXT NOT NULL DEFAULT ''      -- what was searched: a follow-up's standalone form (added later)
);
CREATE INDEX IF NOT EXISTS history_by_time ON history(time);
"""
_ADDED = {"sentences": "TEXT NOT NULL DEFAULT '[]'", "conversation": "TEXT", "searched": "TEXT NOT NULL DEFAULT ''"}

_COLS = "id, time, question, answer, grounded, model, citations, timings, sentences, conversation, searched"
_OFF = ("off", "0", "false", "no")
_ON = ("on", "1", "true", "yes")
DAY_S = 86400.0


class HistoryError(RagdError):
    """A history entry is missing, or the history cannot be changed."""


@dataclass(frozen=True)
class HistorySettings:
    enabled: bool = True
    retention_days: float = 0  # 0 = keep forever


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    time: float  # UTC epoch seconds
    question: str
    answer: str
    grounded: bool
    model: str
    citations: list[dict[str, Any]]  # Citation.to_json(): n, path, page, line_start, line_end, quote
    timings: dict[str, float]
    sentences: list[dict[str, Any]] = field(default_factory=list)  # Sentence.to_json(): each with its support
    conversation: str | None = None
    searched: str = ""

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.time, tz=UTC)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.when.isoformat(timespec="seconds"), "question": self.question,
                "answer": self.answer, "grounded": self.grounded, "model": self.model,
                "citations": self.citations, "sentences": self.sentences, "timings": self.timings,
                "conversation": self.conversation, "searched": self.searched or self.question}

    def turn(self) -> Turn:
        return Turn(self.question, self.answer, self.searched or self.question)


def _fold(text: str | None) -> str:
    """What search compares: width-normalised (NFKC) and case-folded, so 'ＲＡＧ' finds 'rag'."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    id_, when, question, answer, grounded, model, citations, timings, sentences, conversation, searched = row
    return HistoryEntry(id=id_, time=when, question=question, answer=answer, grounded=bool(grounded),
                        model=model, citations=json.loads(citations), timings=json.loads(timings),
                        sentences=json.loads(sentences), conversation=conversation, searched=searched or "")


class History:
    """The history file at ``path``. Nothing is created until the first ``record``; reading a file
    that does not exist gives empty results. ``readonly`` readers never block, nor are blocked by, a writer."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None

    def _db(self, *, create: bool = False) -> sqlite3.Connection | None:
        if self._conn is None:
            if not create and not self.path.exists():
                return None
            conn = connect(self.path, readonly=self.readonly)
            conn.create_function("ragd_fold", 1, _fold, deterministic=True)
            if not self.readonly:
                conn.executescript(SCHEMA)
                columns = {row[1] for row in conn.execute("PRAGMA table_info(history)")}
                for name, kind in _ADDED.items():  # a history from before these columns
                    if name not in columns:
                        conn.execute(f"ALTER TABLE history ADD COLUMN {name} {kind}")
                conn.execute("CREATE INDEX IF NOT EXISTS history_by_conversation ON history(conversation, time)")
            self._conn = conn
        return self._conn

    def _writer(self, *, create: bool = False) -> sqlite3.Connection | None:
        if self.readonly:
            raise HistoryError(f"the history {self.path} is open read-only")
        return self._db(create=create)

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = self._db()
        if conn is None:
            return []
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a file its writer has not set up yet
                return []
            if "no such column" in str(exc):  # read-only, from before its writer added the columns
                old = sql.replace(", sentences, conversation, searched FROM", ", '[]', NULL, '' FROM")
                return [] if "conversation =" in old else conn.execute(old, params).fetchall()
            raise

    def record(self, answer: Answer, *, at: float | None = None) -> int:
        """Save ``answer`` (at ``at``, default now); returns the new entry's id."""
        conn = self._writer(create=True)
        assert conn is not None
        data = answer.to_json()
        with conn:
            cur = conn.execute(
                "INSERT INTO history (time, question, answer, grounded, model, citations, timings, sentences, "
                "conversation, searched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time() if at is None else at, answer.question, answer.answer, int(answer.grounded),
                 answer.model, json.dumps(data["citations"], ensure_ascii=False),
                 json.dumps(data["timings"], ensure_ascii=False), json.dumps(data["sentences"], ensure_ascii=False),
                 answer.conversation, answer.searched or answer.question))
        assert cur.lastrowid is not None
        return cur.lastrowid

    def recent(self, limit: int = 20, search: str | None = None) -> list[HistoryEntry]:
        """Newest first; ``search`` keeps entries whose question or answer contains it (any case or width)."""
        if limit <= 0:
            return []
        if search and search.strip():
            sql = (f"SELECT {_COLS} FROM history WHERE instr(ragd_fold(question), ?) > 0 "
                   "OR instr(ragd_fold(answer), ?) > 0 ORDER BY time DESC, id DESC LIMIT ?")
            needle = _fold(search.strip())
            return [_entry(r) for r in self._rows(sql, (needle, needle, limit))]
        return [_entry(r) for r in self._rows(f"SELECT {_COLS} FROM history ORDER BY time DESC, id DESC LIMIT ?",
                                              (limit,))]

    def conversation(self, conversation: str, limit: int = 50) -> list[HistoryEntry]:
        """The conversation's entries, oldest first (its latest ``limit``)."""
        rows = self._rows(f"SELECT {_COLS} FROM history WHERE conversation = ? ORDER BY time DESC, id DESC LIMIT ?",
                          (conversation, limit))
        return [_entry(r) for r in reversed(rows)]

    def count(self) -> int:
        rows = self._rows("SELECT count(*) FROM history", ())
        return int(rows[0][0]) if rows else 0

    def get(self, entry_id: int) -> HistoryEntry | None:
        rows = self._rows(f"SELECT {_COLS} FROM history WHERE id = ?", (entry_id,))
        return _entry(rows[0]) if rows else None

    def delete(self, entry_id: int) -> bool:
        conn = self._writer()
        if conn is None:
            return False
        with conn:
            return conn.execute("DELETE FROM history WHERE id = ?", (entry_id,)).rowcount > 0

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        conn = self._writer()
        if conn is None:
            return 0
        with conn:
            return conn.execute("DELETE FROM history").rowcount

    def prune(self, retention_days: float, now: float | None = None) -> int:
        """Delete entries older than ``retention_days`` (0 = keep forever); returns how many."""
        if retention_days <= 0:
            return 0
        conn = self._writer()
        if conn is None:
            return 0
        cutoff = (time.time() if now is None else now) - retention_days * DAY_S
        with conn:
            return conn.execute("DELETE FROM history WHERE time < ?", (cutoff,)).rowcount

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> History:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def remember(answer: Answer, path: Path, settings: HistorySettings) -> int | None:
    """What ``ragd ask`` calls: save ``answer`` and apply the retention, unless history is off."""
    if not settings.enabled:
        return None
    with History(path) as history:
        entry_id = history.record(answer)
        history.prune(settings.retention_days)
    return entry_id
