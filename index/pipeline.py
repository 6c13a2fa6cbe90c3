"""The indexing run: scan sources, find what changed, parse, chunk, embed, store.

Crash safety comes from the order of writes and from reconciling at the start of each run:
the catalog (manifest + chunks + lexical terms, one SQLite transaction per file) is the
source of truth. New vectors are written before the catalog transaction and stale ones
deleted after it, so at any instant the vector store holds at most some extra ids (deleted
on the next run) and, if it was damaged, some missing ones (re-added from the embedding
cache). A file whose transaction did not commit still looks changed and is redone.
Listing every vector id costs time in proportion to the index, so a process does it on its
first run and whenever the two stores' counts disagree (every half-done write leaves extra ids);
its later runs (the daemon's periodic scans) compare the counts alone.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from ragd.connectors import Connector, Entry
from ragd.index.chunk import ChunkSettings, chunk_document, embed_text, embedding_units
from ragd.index.embed import Embedder, Vectors
from ragd.index.embedding import Batch, Embedding, Parsed
from ragd.index.errors import SourceUnavailable
from ragd.index.isolate import Job, ParsePool, ParseResult
from ragd.index.items import Items
from ragd.index.models import Chunk, IndexStats
from ragd.index.parse import is_supported
from ragd.index.paths import resolve_paths
from ragd.index.scan import Progress, Scan, Slices, Tally, judge, suffix_of, unsupported_reason
from ragd.index.store.catalog import Catalog, FileRecord, chunk_of, unit_ids
from ragd.index.store.embed_cache import EmbeddingCache, text_hash
from ragd.index.store.space import SpaceGuard
from ragd.index.store.vectors import VectorStore

__all__ = ["Cancelled", "IndexStats", "Indexer", "Progress", "Slices", "resolve_paths"]

log = logging.getLogger(__name__)

EMBED_BATCH = 256  # chunk texts per embedding call (several small files share one call)
BYTES_PER_TEXT = 16 * 1024  # room a stored text may take: its vector in the cache, Chroma's log and graph, the catalog


class Cancelled(Exception):
    """Raised by a progress callback to stop a run between two files (what is stored stays consistent)."""


def chunk_id(path: str, embed_hash: str, occurrence: int) -> str:
    return hashlib.sha256(f"{path}\0{embed_hash}\0{occurrence}".encode()).hexdigest()[:32]


SENTENCE_UNITS = 6  # unit_tokens of indexes made when every sentence had its own vector


class Indexer:
    def __init__(self, catalog: Catalog, cache: EmbeddingCache, vectors: VectorStore, embedder: Embedder,
                 pool: Callable[[], AbstractContextManager[ParsePool]], chunk_tokens: int = 160,
                 space: SpaceGuard | None = None, unit_tokens: int = ChunkSettings.unit_tokens) -> None:
        self.catalog = catalog
        self.space = space  # checked before each write: a full disk stops a run between two files
        self.cache = cache
        self.vectors = vectors
        self.embedder = embedder
        self.pool_factory = pool
        self.settings = ChunkSettings(max_tokens=chunk_tokens, unit_tokens=unit_tokens)
        self._vectors_checked = False  # this process has compared the two stores id by id
        self._items = Items(())  # the items of the run or update in progress, through their connectors

    @property
    def signature(self) -> str:
        """What the chunks depend on besides the files: a change means re-chunking everything. An embedder
        whose token count changed says so with ``token_count_revision``."""
        revision = self.embedder.token_count_revision
        counted = f"|count={revision}" if revision else ""
        units = self.settings.unit_tokens
        grouped = "" if units == SENTENCE_UNITS else f">={units}"  # one vector per sentence: the old signature
        return f"{self.embedder.model_id}|tokens={self.settings.max_tokens}|units=sentences{grouped}|v2{counted}"

    # -- the run ------------------------------------------------------------------------------
    _scan: Scan | None = None  # the full scan in progress (updates run between its slices)

    def run(self, connectors: Sequence[Connector], *, prune_outside: bool = True,
            progress: Progress | None = None, slices: Slices | None = None) -> IndexStats:
        """Scan every source and bring the whole index up to date (also repairs the vector store).

        An unchanged file costs a stat and a look-up in the manifest read at the start; only the others are
        read back from the catalog and handed to ``_apply``. With ``slices`` they are applied slice by slice,
        with ``slices.between`` after each (see ``Slices``); without, all at once. Files are removed at the end:
        those the whole scan did not meet, unless an update between slices judged them since.
        """
        started = time.monotonic()
        stats = IndexStats()
        self._items = Items(connectors)
        if self.catalog.get_meta("signature") is None and not self.catalog.counts()["files"]:
            self.catalog.set_meta("signature", self.signature)  # a new index: an interrupted first run resumes
        forced = self.catalog.get_meta("signature") != self.signature
        if forced:
            log.info("model or chunking changed: re-indexing every file in place")
        if not self._vectors_checked or self.vectors.count() != self.catalog.vector_count():
            stats.vectors_repaired = self.reconcile_vectors()

        scan = Scan(self.catalog.file_stats(), forced)
        self._scan = scan
        try:
            self._scan_sources(connectors, scan, stats, Tally(progress) if progress else None, slices)
            self._sweep(connectors, scan, prune_outside, stats)
        finally:
            self._scan = None
        self.catalog.set_meta("signature", self.signature)
        self.catalog.set_meta("model_id", self.embedder.model_id)
        if forced:
            self.vectors.drop_others()  # the collections of a previous model
        stats.seconds = round(time.monotonic() - started, 3)
        return stats

    def update(self, connectors: Sequence[Connector], paths: Iterable[str], *,
               progress: Progress | None = None) -> IndexStats:
        """Bring only ``paths`` up to date: files or folders, new, changed or gone (the watcher's events).

        A path outside every source is ignored. Before the first full run, or after a change of
        model, this is a full run instead (unless it runs between the slices of that run).
        """
        scan = self._scan  # set when this runs between the slices of a full scan
        if scan is None and self.catalog.get_meta("signature") != self.signature:
            return self.run(connectors, prune_outside=False, progress=progress)
        started = time.monotonic()
        stats = IndexStats()
        if scan is None:
            self._items = Items(connectors)
        seen: dict[str, Entry] = {}
        known: dict[str, FileRecord] = {}
        for path in dict.fromkeys(paths):
            owner = next((c for c in connectors if c.covers(path)), None)
            if owner is None:
                continue
            try:
                if owner.is_container(path):
                    entries = list(owner.scan_under(path))
                else:
                    one = owner.entry(path)
                    entries = [one] if one is not None else []
            except SourceUnavailable as exc:  # nothing is known to be gone: what is indexed stays
                log.warning("%s not scanned: %s", path, exc)
                continue
            known.update(self.catalog.files_under(path))
            for entry in entries:
                seen.setdefault(entry.path, entry)
        removed = [p for p in known if p not in seen]
        if scan is not None:
            scan.touched.update(seen)
            scan.touched.update(known)
        self._apply(seen, known, removed, scan is not None and scan.forced, stats, progress)
        stats.seconds = round(time.monotonic() - started, 3)
        return stats

    def _scan_sources(self, connectors: Sequence[Connector], scan: Scan, stats: IndexStats,
                      progress: Tally | None, slices: Slices | None) -> None:
        """Walk every source, counting the files the manifest already describes; apply the others in slices."""
        found: dict[str, Entry] = {}
        due = time.monotonic() + slices.seconds if slices is not None else 0.0
        for connector in connectors:
            try:
                for entry in connector.scan():
                    if entry.path in scan.seen:  # reached twice (two sources): the first one counts
                        continue
                    scan.seen.add(entry.path)
                    if not self._settled(entry, scan, stats):
                        found[entry.path] = entry
                    if slices is not None and (len(found) >= slices.files or time.monotonic() >= due):
                        self._apply_found(found, scan, stats, progress)
                        found = {}
                        slices.between()
                        due = time.monotonic() + slices.seconds
            except SourceUnavailable as exc:  # its items stay as they were indexed (see _sweep)
                log.warning("source %s not scanned: %s", connector.root, exc)
                scan.unavailable.append(connector)
        self._apply_found(found, scan, stats, progress)

    def _settled(self, entry: Entry, scan: Scan, stats: IndexStats) -> bool:
        """True (and counted) if the manifest as the scan began already says what this scan would write."""
        reason = entry.skip_reason
        if reason is None:
            name = entry.parse_name
            suffix = suffix_of(name)
            supported = scan.supported.get(suffix)
            if supported is None:
                supported = scan.supported[suffix] = is_supported(Path(name))
            reason = None if supported else unsupported_reason(name)
        verdict = judge(entry, reason, scan.stat_of(entry.path), scan.forced)
        if verdict == "skipped":
            stats.files_skipped += 1
        elif verdict == "unchanged":
            stats.files_unchanged += 1
        return verdict is not None

    def _apply_found(self, found: dict[str, Entry], scan: Scan, stats: IndexStats, progress: Tally | None) -> None:
        """Apply one slice's files, judged against their records as they are now (an update may have run)."""
        if found:
            self._apply(found, self.catalog.records(found), [], scan.forced, stats, progress)
        if progress is not None:
            progress.next_slice()

    def _sweep(self, connectors: Sequence[Connector], scan: Scan, prune_outside: bool, stats: IndexStats) -> None:
        """Remove the files the whole scan did not meet (those outside every source only with ``prune_outside``)."""
        for path in scan.known:
            if path in scan.seen or path in scan.touched:
                continue
            if any(c.covers(path) for c in scan.unavailable):
                continue
            if prune_outside or any(c.covers(path) for c in connectors):
                self._remove(path)
                stats.files_removed += 1

    def drop(self, root: str, keep: Sequence[Connector]) -> int:
        """Forget the files under ``root`` (a removed source) that no source in ``keep`` covers."""
        gone = [p for p in self.catalog.files_under(root) if not any(c.covers(p) for c in keep)]
        for path in gone:
            self._remove(path)
        return len(gone)

    def _apply(self, seen: dict[str, Entry], known: dict[str, FileRecord], removed: Sequence[str], forced: bool,
               stats: IndexStats, progress: Progress | None) -> None:
        """Remove ``removed``; parse, embed and store the entries of ``seen`` that changed.

        A pipeline: while one batch is embedded (in a thread of its own, or the embedding worker process),
        the parser worker parses the next files and this thread chunks them and writes the batch before.
        Batches are written in order, each file in its own transaction, as without the overlap.
        """
        todo = self._changed(seen, known, forced, stats)
        for path in removed:
            self._remove(path)
            stats.files_removed += 1
        total = len(todo)
        done = 0
        batch: list[Parsed] = []
        pending = 0
        if not todo:
            return
        with self.pool_factory() as pool, Embedding(self.embedder, self.cache) as embedding:
            jobs: dict[Job, tuple[Entry, str]] = {}
            in_flight: Batch | None = None
            for job, result in pool.parse_many(self._jobs(todo, jobs, stats)):
                entry, digest = jobs.pop(job)
                parsed = self._after_parse(entry, digest, result, stats)
                done += 1
                if progress:
                    progress(done, total, entry.path)
                if parsed is None:
                    continue
                batch.append(parsed)
                pending += len(parsed.texts)
                if pending >= EMBED_BATCH:
                    in_flight = self._next(embedding, in_flight, batch, stats)
                    batch, pending = [], 0
            in_flight = self._next(embedding, in_flight, batch, stats)
            if in_flight is not None:
                self._store(in_flight, stats)

    def _jobs(self, todo: list[tuple[Entry, str]], jobs: dict[Job, tuple[Entry, str]],
              stats: IndexStats) -> Iterator[Job]:
        """Each entry's parse job, made as the pool asks for it (an item's bytes are read then); an item that
        cannot be read is recorded as failed."""
        for entry, digest in todo:
            try:
                job = self._items.job(entry)
            except OSError as exc:
                self._failed(entry, digest, f"cannot read: {exc.strerror or exc}", stats)
                continue
            jobs[job] = (entry, digest)
            yield job

    def _failed(self, entry: Entry, digest: str | None, reason: str, stats: IndexStats) -> None:
        self._record(entry, digest, "failed", reason)
        stats.files_failed += 1
        stats.failures.append({"path": entry.path, "status": "failed", "reason": reason})

    def _next(self, embedding: Embedding, in_flight: Batch | None, batch: list[Parsed],
              stats: IndexStats) -> Batch | None:
        """Start embedding ``batch``, then store the batch before it (its vectors are ready or nearly)."""
        started = None
        if batch:
            if self.space is not None:
                self.space.check(sum(len(p.texts) for p in batch) * BYTES_PER_TEXT)
            started = embedding.start(batch)
        if in_flight is not None:
            self._store(in_flight, stats)
        return started

    def _changed(self, seen: dict[str, Entry], known: dict[str, FileRecord], forced: bool,
                 stats: IndexStats) -> list[tuple[Entry, str]]:
        """Stat first, hash only on change; record skipped files; return (entry, hash) to parse."""
        todo: list[tuple[Entry, str]] = []
        for path, entry in seen.items():
            old = known.get(path)
            name = entry.parse_name
            reason = entry.skip_reason or (None if is_supported(Path(name)) else unsupported_reason(name))
            verdict = judge(entry, reason, old, forced)
            if reason is not None:
                if verdict is None:
                    self._record(entry, None, "skipped", reason)
                stats.files_skipped += 1
                continue
            if verdict == "unchanged":
                stats.files_unchanged += 1
                continue
            try:
                digest = self._items.digest(entry)
            except OSError as exc:  # vanished or unreadable since the scan
                self._record(entry, None, "failed", f"cannot read: {exc.strerror or exc}")
                stats.files_failed += 1
                continue
            if not forced and old is not None and old.hash == digest and old.status != "skipped":
                self.catalog.touch_file(path, entry.size, entry.mtime_ns)
                stats.files_unchanged += 1
                continue
            todo.append((entry, digest))
        return todo

    def _after_parse(self, entry: Entry, digest: str, result: ParseResult, stats: IndexStats) -> Parsed | None:
        if result.error is not None or result.documents is None:
            reason = result.error or "parser returned nothing"
            if result.unsupported:
                self._record(entry, digest, "skipped", reason)
                stats.files_skipped += 1
            else:
                self._failed(entry, digest, reason, stats)
            return None
        chunks: list[Chunk] = []
        for doc in result.documents:
            chunks += chunk_document(doc, self.embedder.count_tokens, self.settings, first_ordinal=len(chunks))
        return Parsed(entry, digest, chunks, [embedding_units(c, self.settings.unit_tokens) for c in chunks])

    def _store(self, batch: Batch, stats: IndexStats) -> None:
        vectors, fresh = batch.vectors()
        stats.vectors_embedded += sum(fresh)
        offset = 0
        for parsed in batch.files:
            start = offset
            for units in parsed.units:
                stats.chunks_embedded += any(fresh[offset : offset + len(units)])
                offset += len(units)
            self._write_file(parsed, vectors[start:offset])
            stats.files_indexed += 1
            stats.chunks_written += len(parsed.chunks)

    def _write_file(self, parsed: Parsed, vecs: Sequence[Vectors]) -> None:
        path = parsed.entry.path
        old = self.catalog.chunk_units(path)
        rows: list[tuple[str, str, int, Chunk]] = []
        occurrences: dict[str, int] = {}
        new_ids: list[str] = []
        new_vecs: list[Vectors] = []
        offset = 0
        for chunk, units in zip(parsed.chunks, parsed.units, strict=True):
            h = text_hash(embed_text(chunk))
            occurrences[h] = occurrences.get(h, 0) + 1
            cid = chunk_id(path, h, occurrences[h])
            rows.append((cid, h, len(units), chunk))
            if old.get(cid) != len(units):
                new_ids += unit_ids(cid, len(units))
                new_vecs += vecs[offset : offset + len(units)]
            offset += len(units)
        if new_ids:  # 1. vectors first: a crash now leaves only extra ids, removed on the next run
            self.vectors.upsert(new_ids, new_vecs)
        note = None if parsed.chunks else "no text found"
        record = FileRecord(path, parsed.entry.size, parsed.entry.mtime_ns, parsed.digest, "indexed", note,
                            len(rows), time.time())
        self.catalog.replace_file(record, rows)  # 2. the catalog, atomically
        kept = {cid: n for cid, _, n, _ in rows}
        stale = [u for cid, n in old.items() if kept.get(cid) != n for u in unit_ids(cid, n)]
        if stale:  # 3. then the vectors that no longer belong
            self.vectors.delete(sorted(stale))

    def _record(self, entry: Entry, digest: str | None, status: str, reason: str) -> None:
        old_ids = self.catalog.vector_ids(entry.path)
        self.catalog.replace_file(
            FileRecord(entry.path, entry.size, entry.mtime_ns, digest, status, reason, 0, time.time()), [])
        if old_ids:
            self.vectors.delete(old_ids)

    def _remove(self, path: str) -> None:
        ids = self.catalog.vector_ids(path)
        self.catalog.remove_file(path)
        if ids:
            self.vectors.delete(ids)

    # -- repair -----------------------------------------------------------------------------
    def reconcile_vectors(self) -> int:
        """Make the vector store hold exactly the catalog's chunks; returns how many ids changed."""
        have = self.vectors.ids()
        want = self.catalog.all_vector_ids()
        extra = sorted(have - want)
        missing = want - have
        if extra:
            self.vectors.delete(extra)
        if missing:
            stored = self.catalog.chunks_by_id({chunk_of(u) for u in missing})
            items = sorted(stored.values(), key=lambda s: s.id)
            for i in range(0, len(items), EMBED_BATCH // 4):
                ids: list[str] = []
                texts: list[str] = []
                for s in items[i : i + EMBED_BATCH // 4]:
                    units = embedding_units(s.chunk, self.settings.unit_tokens)
                    ids += unit_ids(s.id, len(units))
                    texts += units
                if self.space is not None:
                    self.space.check(len(texts) * BYTES_PER_TEXT)
                vecs, _ = self.cache.embed(self.embedder, texts)
                self.vectors.upsert(ids, vecs)
        if extra or missing:
            log.info("vector store repaired: %d extra removed, %d missing restored", len(extra), len(missing))
        self._vectors_checked = True
        return len(extra) + len(missing)
