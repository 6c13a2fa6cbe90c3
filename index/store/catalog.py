"""The catalog: one SQLite file (WAL) holding the manifest of files, their chunks, and the
lexical (FTS5) index of those chunks.

Manifest, chunks and lexical terms live in one database so that replacing a file's chunks
is one transaction: the lexical index can never disagree with the manifest. The vector
store is separate and is reconciled against the ``chunks`` table (see ``pipeline``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from ragd.index.models import Chunk
from ragd.index.scope import Scope
from ragd.index.store.records import FileRecord, FileStat, FileStatRow, StoredChunk, chunk_of, stored_chunk, unit_ids
from ragd.index.store.sqlite import connect
from ragd.index.tokenize import fts_match, fts_phrase, index_text, query_terms

__all__ = ["Catalog", "FileRecord", "FileStat", "FileStatRow", "StoredChunk", "chunk_of", "selective_terms",
           "unit_ids"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (path TEXT PRIMARY KEY, added_at REAL NOT NULL, kind TEXT NOT NULL DEFAULT 'files');
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT,
    status TEXT NOT NULL,          -- indexed | failed | skipped
    error TEXT,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    embed_hash TEXT NOT NULL,      -- hash of the chunk's embedded text (part of its id)
    units INTEGER NOT NULL DEFAULT 1,  -- vectors stored for the chunk: ids "<id>.<n>", n < units
    text TEXT NOT NULL,
    doc_key TEXT NOT NULL DEFAULT '',
    title TEXT,
    page INTEGER,
    line_start INTEGER,
    line_end INTEGER,
    heading TEXT NOT NULL DEFAULT '[]',
    sheet TEXT,                    -- a spreadsheet's sheet (line_start/line_end are then its rows)
    slide INTEGER,
    ocr INTEGER NOT NULL DEFAULT 0 -- read from an image by OCR
);
CREATE INDEX IF NOT EXISTS chunks_by_path ON chunks(path);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(terms, tokenize='porter unicode61');
"""


# Lexical search at scale. BM25 scores every chunk that holds any searched term, so a term found in a large
# share of the chunks costs the most while its IDF, hence its weight, tends to zero. Terms are searched
# rarest first while the chunks they can match stay within a budget (bounded candidates), and a term in
# more than a share of the chunks is skipped unless nothing rarer is left.
LEXICAL_POSTINGS = 15_000  # chunks the searched terms may hold between them
COMMON_SHARE = 0.2  # a term in more than this share of the chunks is stop-like
SCOPED_POSTINGS = 4 * LEXICAL_POSTINGS
DF_CACHE_S = 60.0  # how long a term's document frequency is reused
DF_CACHE_TERMS = 50_000


def selective_terms(terms: Sequence[str], df: dict[str, int], total: int, *, postings: int = LEXICAL_POSTINGS,
                    common_share: float = COMMON_SHARE) -> list[str]:
    """The terms worth searching, in query order: the rarest always; the next rarest while they are not
    stop-like and the chunks they hold between them stay within ``postings``. A term with no chunks is
    kept (it costs nothing, and a stale count must never hide a file just indexed)."""
    by_rarity = sorted(terms, key=lambda t: df.get(t, 0))
    kept: set[str] = set(by_rarity[:1])
    held = df.get(by_rarity[0], 0) if by_rarity else 0
    for term in by_rarity[1:]:
        n = df.get(term, 0)
        if n > common_share * total or held + n > postings:
            break
        kept.add(term)
        held += n
    return [t for t in terms if t in kept]


_CHUNK_COLS = ("id, path, ordinal, embed_hash, text, doc_key, title, page, line_start, line_end, heading, sheet, "
               "slide, ocr")
_ADDED_COLUMNS = {"sources": {"kind": "TEXT NOT NULL DEFAULT 'files'"},  # catalogs made before these columns
                  "chunks": {"sheet": "TEXT", "slide": "INTEGER", "ocr": "INTEGER NOT NULL DEFAULT 0"}}


class Catalog:
    """Read and write access to the catalog database. Writers are serialised by the caller's lock."""

    EMPTY_COUNTS: ClassVar[dict[str, int]] = {"files": 0, "indexed": 0, "failed": 0, "skipped": 0, "chunks": 0}

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self.conn = self._open()
        self._df_cache: dict[str, int] = {}  # see _cached_frequencies
        self._df_total = 0
        self._df_expires = 0.0

    def _open(self) -> sqlite3.Connection:
        conn = connect(self.path, readonly=self.readonly)
        if not self.readonly:
            conn.executescript(SCHEMA)
            for table, columns in _ADDED_COLUMNS.items():
                have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns.items():
                    if name not in have:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            conn.commit()
        return conn

    def close(self) -> None:
        self.conn.close()

    def reopen(self) -> None:
        """Connect again (the file was replaced, e.g. a damaged catalog moved aside)."""
        self.conn.close()
        self.conn = self._open()
        self._df_expires = 0.0  # another file: its counts are counted anew

    # -- meta and sources ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def sources(self) -> list[str]:
        return list(self.source_kinds())

    def source_kinds(self) -> dict[str, str]:
        """Each source's spec (a path or a URL) and the kind of connector that reads it."""
        try:
            return dict(self.conn.execute("SELECT path, kind FROM sources ORDER BY path").fetchall())
        except sqlite3.OperationalError:
            return {}

    def add_source(self, path: str, kind: str = "files") -> bool:
        with self.conn:
            cur = self.conn.execute("INSERT OR IGNORE INTO sources(path, added_at, kind) VALUES (?, ?, ?)",
                                    (path, time.time(), kind))
        return cur.rowcount > 0

    def remove_source(self, path: str) -> bool:
        with self.conn:
            cur = self.conn.execute("DELETE FROM sources WHERE path=?", (path,))
        return cur.rowcount > 0

    # -- files ----------------------------------------------------------------------------
    def files(self) -> dict[str, FileRecord]:
        try:
            rows = self.conn.execute(
                "SELECT path, size, mtime_ns, hash, status, error, chunk_count, indexed_at FROM files")
            return {r[0]: FileRecord(*r) for r in rows}
        except sqlite3.OperationalError:
            return {}

    def file_stats(self) -> dict[str, FileStatRow]:
        """Every file's stat and status (``FileStat`` fields): what a re-scan needs of the manifest, in one pass.
        Plain tuples, since the garbage collector stops tracking those (of numbers and strings) once it has
        looked at them: a snapshot of 50,000 named tuples would set off a full collection in every scan."""
        try:
            rows = self.conn.execute("SELECT path, size, mtime_ns, status, error FROM files").fetchall()
        except sqlite3.OperationalError:
            return {}
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def records(self, paths: Iterable[str]) -> dict[str, FileRecord]:
        """The records of those of ``paths`` that the manifest holds."""
        wanted = list(paths)
        out: dict[str, FileRecord] = {}
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            rows = self.conn.execute(
                "SELECT path, size, mtime_ns, hash, status, error, chunk_count, indexed_at FROM files"
                f" WHERE path IN ({','.join('?' * len(part))})", part)
            out.update((r[0], FileRecord(*r)) for r in rows)
        return out

    def files_under(self, path: str) -> dict[str, FileRecord]:
        """Records of ``path`` itself and of every file below it."""
        rows = self.conn.execute(
            "SELECT path, size, mtime_ns, hash, status, error, chunk_count, indexed_at FROM files"
            " WHERE path = ? OR (path >= ? AND path < ?)", (path, path + "/", path + "0"))  # '0' follows '/'
        return {r[0]: FileRecord(*r) for r in rows}

    def file(self, path: str) -> FileRecord | None:
        row = self.conn.execute(
            "SELECT path, size, mtime_ns, hash, status, error, chunk_count, indexed_at FROM files WHERE path=?",
            (path,)).fetchone()
        return None if row is None else FileRecord(*row)

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """The file's bytes are unchanged (same hash); remember its new stat."""
        with self.conn:
            self.conn.execute("UPDATE files SET size=?, mtime_ns=? WHERE path=?", (size, mtime_ns, path))

    def chunk_units(self, path: str) -> dict[str, int]:
        """The file's chunk ids with how many vectors each has."""
        return dict(self.conn.execute("SELECT id, units FROM chunks WHERE path=?", (path,)).fetchall())

    def vector_ids(self, path: str) -> list[str]:
        return [u for cid, n in self.chunk_units(path).items() for u in unit_ids(cid, n)]

    def replace_file(self, record: FileRecord, chunks: Sequence[tuple[str, str, int, Chunk]]) -> None:
        """Atomically set a file's manifest row and its chunks ((id, embed_hash, units, chunk) tuples)."""
        with self.conn:
            self._delete_chunks(record.path)
            self.conn.execute(
                "INSERT OR REPLACE INTO files(path, size, mtime_ns, hash, status, error, chunk_count, indexed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.path, record.size, record.mtime_ns, record.hash, record.status, record.error,
                 len(chunks), record.indexed_at))
            for cid, embed_hash, units, c in chunks:
                cur = self.conn.execute(
                    f"INSERT INTO chunks({_CHUNK_COLS}, units) VALUES ({', '.join('?' * 15)})",
                    (cid, record.path, c.ordinal, embed_hash, c.text, c.doc_key, c.title, c.page,
                     c.line_start, c.line_end, json.dumps(list(c.heading), ensure_ascii=False), c.sheet, c.slide,
                     int(c.ocr), units))
                terms = index_text(" ".join([c.title or "", *c.heading, c.text]))
                self.conn.execute("INSERT INTO chunks_fts(rowid, terms) VALUES (?, ?)", (cur.lastrowid, terms))

    def remove_file(self, path: str) -> None:
        with self.conn:
            self._delete_chunks(path)
            self.conn.execute("DELETE FROM files WHERE path=?", (path,))

    def _delete_chunks(self, path: str) -> None:
        self.conn.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE path=?)", (path,))
        self.conn.execute("DELETE FROM chunks WHERE path=?", (path,))

    # -- chunks ---------------------------------------------------------------------------
    def all_vector_ids(self) -> set[str]:
        try:
            rows = self.conn.execute("SELECT id, units FROM chunks").fetchall()
        except sqlite3.OperationalError:
            return set()
        return {u for cid, n in rows for u in unit_ids(cid, n)}

    def vector_count(self) -> int:
        """How many vectors the catalog's chunks should have in the vector store."""
        try:
            return int(self.conn.execute("SELECT COALESCE(SUM(units), 0) FROM chunks").fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    def chunks_by_id(self, ids: Iterable[str]) -> dict[str, StoredChunk]:
        wanted = list(ids)
        out: dict[str, StoredChunk] = {}
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(f"SELECT {_CHUNK_COLS}, units FROM chunks WHERE id IN ({marks})", part):
                stored = stored_chunk(row)
                out[stored.id] = stored
        return out

    def chunks_of(self, path: str) -> list[StoredChunk]:
        """The file's chunks in document order."""
        rows = self.conn.execute(f"SELECT {_CHUNK_COLS}, units FROM chunks WHERE path = ? ORDER BY ordinal", (path,))
        return [stored_chunk(row) for row in rows]

    def iter_chunks(self, batch: int = 1000) -> Iterator[StoredChunk]:
        last = 0
        while True:
            rows = self.conn.execute(
                f"SELECT rowid, {_CHUNK_COLS}, units FROM chunks WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (last, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield stored_chunk(row[1:])
            last = rows[-1][0]

    def lexical_search(self, query: str, k: int, scope: Scope | None = None) -> list[tuple[str, float]]:
        """Best chunks for the query's terms by BM25: (chunk id, score), best first. Only the terms worth
        their cost are searched (``selective_terms``). With a ``scope``, only its files' chunks are ranked."""
        terms = query_terms(query)
        if not terms:
            return []
        try:
            total, df = self._cached_frequencies(terms)
            # within a scope a term common in the whole index may be what sets the scope's chunks apart: every
            # term is searched while the postings stay within a wider budget
            budget, common = (LEXICAL_POSTINGS, COMMON_SHARE) if not scope else (SCOPED_POSTINGS, 1.0)
            match = fts_match(selective_terms(terms, df, total, postings=budget, common_share=common))
            if match is None:
                return []
            # rowids first: the chunk rows are looked up for the k best only, not for every match
            within, params = ("", []) if not scope else self._scope_rowids(scope)
            rows = self.conn.execute(f"SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?{within}"
                                     " ORDER BY rank LIMIT ?", (match, *params, k)).fetchall()
            ids = self._ids_by_rowid([r[0] for r in rows])
        except sqlite3.OperationalError:
            return []
        return [(ids[rowid], -float(s)) for rowid, s in rows if rowid in ids]

    @staticmethod
    def _scoped(scope: Scope, columns: str) -> tuple[str, list[object]]:
        """A SELECT of ``columns`` over the chunks of the scope's indexed files (``c``: chunks, ``f``: files)."""
        clause, params = scope.sql()
        return (f"SELECT {columns} FROM chunks c JOIN files f ON f.path = c.path WHERE f.status = 'indexed'"
                f" AND {clause}"), params

    def _scope_rowids(self, scope: Scope) -> tuple[str, list[object]]:
        select, params = self._scoped(scope, "c.rowid")
        return f" AND rowid IN ({select})", params

    def scope_units(self, scope: Scope, limit: int) -> list[str] | None:
        """The vector ids of the scope's chunks, or None when there are more than ``limit``."""
        select, params = self._scoped(scope, "c.id, c.units")
        rows = self.conn.execute(f"{select} LIMIT ?", [*params, limit + 1]).fetchall()
        ids = [u for cid, n in rows for u in unit_ids(cid, n)]
        return None if len(rows) > limit or len(ids) > limit else ids

    def scope_chunk_ids(self, scope: Scope) -> set[str]:
        select, params = self._scoped(scope, "c.id")
        return {str(r[0]) for r in self.conn.execute(select, params)}

    def _ids_by_rowid(self, rowids: Sequence[int]) -> dict[int, str]:
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        return {int(r): str(cid) for r, cid in
                self.conn.execute(f"SELECT rowid, id FROM chunks WHERE rowid IN ({marks})", list(rowids))}

    def _term_frequency(self, term: str) -> int:
        """Chunks holding ``term`` (FTS5 stems it as it stemmed the text)."""
        row = self.conn.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                (fts_phrase(term),)).fetchone()
        return int(row[0])

    def _cached_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """(chunks, {term: chunks holding it}), remembered for ``DF_CACHE_S``: counting a common term walks
        its whole posting list, and the common terms are the ones that come back query after query. A stale
        count only changes which common terms are skipped, since absent terms are never skipped."""
        now = time.monotonic()
        if now >= self._df_expires or len(self._df_cache) > DF_CACHE_TERMS:
            self._df_cache.clear()
            self._df_total = int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
            self._df_expires = now + DF_CACHE_S
        for term in terms:
            if term not in self._df_cache:
                self._df_cache[term] = self._term_frequency(term)
        return self._df_total, {t: self._df_cache[t] for t in terms}

    def document_frequencies(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(number of chunks, {term: chunks containing it}) for terms as ``query_terms`` makes them."""
        total = int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        out: dict[str, int] = {}
        for term in terms:
            try:
                row = self.conn.execute("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                        ('"' + term.replace('"', '""') + '"',)).fetchone()
                out[term] = int(row[0])
            except sqlite3.OperationalError:
                out[term] = 0
        return total, out

    # -- status ---------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = dict(self.EMPTY_COUNTS)
        try:
            for status, n in self.conn.execute("SELECT status, COUNT(*) FROM files GROUP BY status"):
                out[str(status)] = int(n)
                out["files"] += int(n)
            out["chunks"] = int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        except sqlite3.OperationalError:
            pass
        return out

    def problems(self) -> list[FileRecord]:
        try:
            rows = self.conn.execute(
                "SELECT path, size, mtime_ns, hash, status, error, chunk_count, indexed_at FROM files"
                " WHERE status != 'indexed' ORDER BY status, path")
            return [FileRecord(*r) for r in rows]
        except sqlite3.OperationalError:
            return []

    def list_files(self, *, under: str | None = None, status: str | None = None, contains: str | None = None,
                   limit: int = 200, offset: int = 0) -> tuple[int, list[FileRecord]]:
        """One page of the manifest, by path: (how many match, the records of this page)."""
        where: list[str] = []
        params: list[object] = []
        if under:
            where.append("(path = ? OR (path >= ? AND path < ?))")
            params += [under, under + "/", under + "0"]
        if status:
            where.append("status = ?")
            params.append(status)
        if contains:
            where.append("instr(lower(path), ?) > 0")
            params.append(contains.lower())
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = int(self.conn.execute(f"SELECT COUNT(*) FROM files{clause}", params).fetchone()[0])
        rows = self.conn.execute(
            "SELECT path, size, mtime_ns, hash, status, error, chunk_count, indexed_at FROM files"
            f"{clause} ORDER BY path LIMIT ? OFFSET ?", [*params, limit, offset])
        return total, [FileRecord(*r) for r in rows]

    def fts_consistency(self) -> list[str]:
        """Differences between the chunks table and the lexical index (normally none)."""
        problems: list[str] = []
        missing = self.conn.execute(
            "SELECT COUNT(*) FROM chunks WHERE rowid NOT IN (SELECT rowid FROM chunks_fts)").fetchone()[0]
        extra = self.conn.execute(
            "SELECT COUNT(*) FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)").fetchone()[0]
        if missing:
            problems.append(f"{missing} chunks missing from the lexical index")
        if extra:
            problems.append(f"{extra} lexical entries without a chunk")
        counted = self.conn.execute(
            "SELECT f.path FROM files f LEFT JOIN (SELECT path, COUNT(*) n FROM chunks GROUP BY path) c"
            " ON c.path = f.path WHERE f.chunk_count != COALESCE(c.n, 0)").fetchall()
        problems += [f"{p}: manifest chunk count differs from stored chunks" for (p,) in counted]
        orphans = self.conn.execute(
            "SELECT DISTINCT path FROM chunks WHERE path NOT IN (SELECT path FROM files)").fetchall()
        problems += [f"{p}: chunks without a manifest entry" for (p,) in orphans]
        return problems
