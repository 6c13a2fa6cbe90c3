"""The notes bench.query_latency searches: real sentences cut into notes the way ragd chunks a file, embedded once
each, and written through the stores' own API (see that module's docstring)."""

from __future__ import annotations

import hashlib
import html
import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.note_tree import paragraph
from ragd.daemon.config import Config
from ragd.index.chunk import ChunkSettings, chunk_document, embed_text, embedding_units
from ragd.index.embed import Embedder
from ragd.index.models import Chunk, Document, Part
from ragd.index.pipeline import chunk_id
from ragd.index.sentences import split_sentences
from ragd.index.store.catalog import Catalog, FileRecord, unit_ids
from ragd.index.store.embed_cache import EmbeddingCache, text_hash
from ragd.index.store.vectors import ChromaVectors

EMBED_BATCH = 256
_TAG = re.compile(r"<[^>]+>")


def japanese_passages(data: Path) -> list[list[str]]:
    """One run of sentences per JSQuAD paragraph (ragd's own sentence splitter)."""
    passages: list[list[str]] = []
    for doc in sorted((data / "jsquad_ja" / "docs").iterdir()):
        raw = doc.read_text(encoding="utf-8")
        if doc.suffix == ".html":
            paras = [html.unescape(_TAG.sub("", p)) for p in re.findall(r"<p>(.*?)</p>", raw, re.S)]
        else:
            paras = raw.split("\n\n")[1:]  # the first block is the title
        for para in paras:
            sents = [s for s in split_sentences(" ".join(para.split())) if 10 <= len(s) <= 300]
            if len(sents) >= 2:
                passages.append(sents)
    return passages


class Note:
    """One generated file: its path, its chunks and each chunk's embedding units, as the indexer makes them."""

    __slots__ = ("chunks", "data", "path", "units")

    def __init__(self, path: str, text: str, chunks: list[Chunk]) -> None:
        self.path = path
        self.data = text.encode("utf-8")
        self.chunks = chunks
        self.units = [embedding_units(c) for c in chunks]

    def record(self, chunks: int, on_disk: bool) -> FileRecord:
        """The manifest row the indexer would write; with ``on_disk`` the file is written first, so that a
        daemon serving the index finds it unchanged."""
        mtime_ns = 0
        if on_disk:
            path = Path(self.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.data)
            mtime_ns = path.stat().st_mtime_ns
        return FileRecord(self.path, len(self.data), mtime_ns, hashlib.sha256(self.data).hexdigest(), "indexed",
                          None, chunks, time.time())


def make_note(n: int, rng: random.Random, passages: list[list[str]], count: Callable[[str], int],
              settings: ChunkSettings, tree: Path) -> Note:
    """A plain-text note of 1–3 paragraphs, parsed the way the text parser does (one part per paragraph)."""
    paras = [paragraph(rng, passages) for _ in range(rng.randint(1, 3))]
    parts: list[Part] = []
    line = 1
    for p in paras:
        parts.append(Part(text=p, line_start=line, line_end=line))
        line += 2
    path = tree / f"area-{n // 100 % 1000:03d}" / f"note-{n:06d}.txt"
    return Note(str(path), "\n\n".join(paras) + "\n", chunk_document(Document(parts=parts), count, settings))


def copy_note(n: int, rng: random.Random, earlier: Sequence[Note], tree: Path) -> Note:
    """A copy of an earlier note under a new name (the same text, so the same chunks and units)."""
    source = earlier[rng.randrange(len(earlier))]
    note = Note.__new__(Note)
    note.path = str(tree / f"area-{n // 100 % 1000:03d}" / f"note-{n:07d}.txt")
    note.data, note.chunks, note.units = source.data, source.chunks, source.units
    return note


def notes_for(target_chunks: int, rng: random.Random, passages: list[list[str]], count: Callable[[str], int],
              settings: ChunkSettings, have: list[Note], tree: Path, reuse_above: int = 0) -> list[Note]:
    """Append notes to ``have`` until they hold ``target_chunks`` chunks in all; returns the new ones.
    A note cut short to land on the size is still written whole (its record says it is unchanged).
    Past ``reuse_above`` chunks (when set), new notes are copies of the notes made before that point."""
    total = sum(len(n.chunks) for n in have)
    new: list[Note] = []
    pool: list[Note] | None = None  # the notes made before copying began
    while total < target_chunks:
        if reuse_above and total >= reuse_above:
            pool = pool if pool is not None else have + new
            note = copy_note(len(have) + len(new), rng, pool, tree)
        else:
            note = make_note(len(have) + len(new), rng, passages, count, settings, tree)
        if total + len(note.chunks) > target_chunks:  # land exactly on the size: keep only what fits
            note.chunks = note.chunks[: target_chunks - total]
            note.units = note.units[: len(note.chunks)]
        new.append(note)
        total += len(note.chunks)
    have.extend(new)
    return new


def embed_all(cache: EmbeddingCache, embedder: Embedder, texts: Sequence[str]) -> dict[str, Any]:
    """Vectors for every distinct text (by ragd's text hash), through ragd's embedding cache, with progress."""
    distinct = list(dict.fromkeys(texts))
    out: dict[str, Any] = {}
    started = time.perf_counter()
    fresh = 0
    last = started
    for i in range(0, len(distinct), EMBED_BATCH):
        part = distinct[i : i + EMBED_BATCH]
        vectors, new = cache.embed(embedder, part)
        fresh += sum(new)
        for t, v in zip(part, vectors, strict=True):
            out[text_hash(t)] = v
        now = time.perf_counter()
        if now - last > 30:
            print(f"  embedded {i + len(part):,}/{len(distinct):,} distinct units "
                  f"({fresh:,} new, {fresh / (now - started):.1f}/s)", flush=True)
            last = now
    return {"vectors": out, "distinct": len(distinct), "embedded": fresh,
            "seconds": round(time.perf_counter() - started, 1)}


class Copies:
    """The vector stored for each occurrence of a unit text. Without jitter every copy is the text's real
    embedding (the store then holds exact duplicates). With jitter, every copy after the first is moved off it
    by a random vector of ``jitter`` times its length (cosine to the original about 1 / sqrt(1 + jitter²)), as an
    edited copy of a note would be: a near duplicate, not an exact one, so the vector graph is not built over
    runs of identical points that no real tree of notes holds at that scale."""

    def __init__(self, by_hash: dict[str, Any], jitter: float, seed: int) -> None:
        self.by_hash, self.jitter = by_hash, jitter
        self.seen: dict[str, int] = {}
        self.rng = np.random.default_rng(seed)

    def vector(self, text: str) -> Any:
        h = text_hash(text)
        base = self.by_hash[h]
        n = self.seen.get(h, 0)
        self.seen[h] = n + 1
        if not self.jitter or n == 0:
            return base
        v = np.asarray(base, dtype=np.float32)
        noise = self.rng.standard_normal(v.shape[0]).astype(np.float32)
        noise *= self.jitter * float(np.linalg.norm(v)) / float(np.linalg.norm(noise))
        moved = v + noise
        return moved * (float(np.linalg.norm(v)) / float(np.linalg.norm(moved)))


def write_notes(notes: list[Note], catalog: Catalog, vectors: ChromaVectors, copies: Copies,
                upsert_batch: int = 4000, on_disk: bool = False) -> dict[str, float]:
    """Store notes as the indexer stores a file: vectors first (in large batches), then each file's catalog
    transaction (manifest row, chunks, lexical terms); with ``on_disk`` the notes' files are written too.
    A note's text is let go once it is stored (a million chunks of them would hold gigabytes)."""
    ids: list[str] = []
    vecs: list[Any] = []
    t_vectors = 0.0
    t_catalog = 0.0
    for note in notes:
        rows: list[tuple[str, str, int, Chunk]] = []
        occurrences: dict[str, int] = {}
        for chunk, units in zip(note.chunks, note.units, strict=True):
            h = text_hash(embed_text(chunk))
            occurrences[h] = occurrences.get(h, 0) + 1
            cid = chunk_id(note.path, h, occurrences[h])
            rows.append((cid, h, len(units), chunk))
            ids += unit_ids(cid, len(units))
            vecs += [copies.vector(u) for u in units]
        t = time.perf_counter()
        catalog.replace_file(note.record(len(rows), on_disk), rows)
        t_catalog += time.perf_counter() - t
        note.data, note.chunks, note.units = b"", [], []
        if len(ids) >= upsert_batch:
            t = time.perf_counter()
            vectors.upsert(ids, vecs)
            t_vectors += time.perf_counter() - t
            ids, vecs = [], []
    if ids:
        t = time.perf_counter()
        vectors.upsert(ids, vecs)
        t_vectors += time.perf_counter() - t
    return {"catalog_s": round(t_catalog, 1), "vectors_s": round(t_vectors, 1)}


def store_mb(cfg: Config) -> int:
    """The index on disk: the catalog (with its lexical index) and the vector store."""
    files = [cfg.catalog_path, *cfg.catalog_path.parent.glob(cfg.catalog_path.name + "-*"),
             *(f for f in cfg.chroma_path.rglob("*") if f.is_file())]
    return round(sum(f.stat().st_size for f in files if f.exists()) / 2**20)
