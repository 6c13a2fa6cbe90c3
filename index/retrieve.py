"""Hybrid retrieval: dense vectors and BM25 over the lexical index, fused by weighted
reciprocal rank fusion (RRF), best chunks first."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from ragd.index.embed import Embedder, Vectors
from ragd.index.models import Hit, Mode
from ragd.index.scope import Scope
from ragd.index.store.catalog import Catalog, chunk_of
from ragd.index.store.records import hit_of
from ragd.index.store.vectors import VectorStore


@dataclass(frozen=True)
class FusionSettings:
    # Chosen on squad_en + jsquad_ja with cranfield distractors (bench/retrieval_quality.py): a small k
    # trusts the top ranks of each list; BM25 weighs a little more than the vectors because it is the
    # stronger signal in Japanese and as strong as sentence vectors in English.
    candidates: int = 60  # taken from each retriever before fusion
    rrf_k: int = 5
    units_per_chunk: int = 4  # sentence vectors fetched per wanted chunk
    dense_weight: float = 0.7
    lexical_weight: float = 1.0
    # A scoped search asks the vector store among the scope's vectors when there are at most this many; a wider
    # scope (most of the index) is searched whole, fetching ``scope_overfetch`` times more, and filtered.
    scope_ids: int = 50_000
    scope_overfetch: int = 8


def rrf(rankings: Sequence[Sequence[str]], weights: Sequence[float], k: int) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion of ranked id lists: score(id) = Σ w / (k + rank)."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, cid in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


# Lexical searches run here while the calling thread embeds the query and asks the vector store: SQLite,
# the embedder and chromadb's core all release the GIL, so the two sides overlap. Shared by every Retriever
# (the daemon makes one per request); its threads start on first use.
LEXICAL_THREADS = 8
_lexical_pool: ThreadPoolExecutor | None = None
_lexical_pool_lock = threading.Lock()


def lexical_pool() -> ThreadPoolExecutor:
    global _lexical_pool
    with _lexical_pool_lock:
        if _lexical_pool is None:
            _lexical_pool = ThreadPoolExecutor(LEXICAL_THREADS, thread_name_prefix="ragd-lexical")
        return _lexical_pool


class Retriever:
    def __init__(self, catalog: Catalog, vectors: VectorStore, embedder: Embedder,
                 settings: FusionSettings | None = None,
                 on_vector_error: Callable[[Exception], None] | None = None) -> None:
        """With ``on_vector_error``, a vector store that fails is reported there and the search goes on with
        the lexical index alone (the daemon keeps answering while it rebuilds the store)."""
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        self.settings = settings or FusionSettings()
        self.on_vector_error = on_vector_error

    def _vector_query(self, vector: Vectors, n: int, scope: Scope | None) -> list[tuple[str, float]]:
        units = inside = None
        if scope:  # the catalog's part: its errors are the catalog's, not the vector store's
            units = self.catalog.scope_units(scope, self.settings.scope_ids)
            if units is None:
                inside = self.catalog.scope_chunk_ids(scope)
        try:
            if inside is not None:
                wide = self.vectors.query(vector, n * self.settings.scope_overfetch)
                return [(uid, sim) for uid, sim in wide if chunk_of(uid) in inside]
            return self.vectors.query(vector, n) if units is None else self.vectors.query(vector, n, units)
        except Exception as exc:
            if self.on_vector_error is None:
                raise
            self.on_vector_error(exc)
            return []

    def _dense(self, query: str, n: int, scope: Scope | None = None) -> dict[str, float]:
        """Chunks by their best sentence's similarity, best first (more than ``n`` when the sentences allow)."""
        vector = self.embedder.embed_batch([query], "query")[0]
        # Similarity over the query's squared norm: a cosine for single-model embedders, and for the
        # concatenated ones (halves normalised separately) the mean of the halves' cosines.
        scale = float(np.dot(vector, vector)) or 1.0
        dense: dict[str, float] = {}
        for uid, sim in self._vector_query(vector, n * self.settings.units_per_chunk, scope):
            dense.setdefault(chunk_of(uid), sim / scale)  # results come best first
        return dense

    def _both(self, query: str, n: int, scope: Scope | None) -> tuple[dict[str, float], list[tuple[str, float]]]:
        """The dense and lexical sides at the same time: lexical on the pool, dense on this thread."""
        lexical = lexical_pool().submit(self.catalog.lexical_search, query, n, scope)
        try:
            dense = self._dense(query, n, scope)
        except BaseException:
            wait([lexical])  # the catalog's connection is idle again before the caller may close it
            raise
        return dense, lexical.result()

    def search(self, query: str, k: int = 5, mode: Mode = "hybrid", scope: Scope | None = None) -> list[Hit]:
        """The ``k`` best chunks; with a ``scope``, the best of its files' chunks (each side searches only them)."""
        query = query.strip()
        if not query:
            return []
        s = self.settings
        n = max(s.candidates, k)
        dense: dict[str, float] = {}
        lexical: list[tuple[str, float]] = []
        if mode == "hybrid":
            dense, lexical = self._both(query, n, scope)
        elif mode == "dense":
            dense = self._dense(query, n, scope)
        else:
            lexical = self.catalog.lexical_search(query, n, scope)
        rankings: list[list[str]] = []
        weights: list[float] = []
        if mode != "lexical":
            rankings.append(list(dense)[:n])
            weights.append(s.dense_weight)
        if mode != "dense":
            rankings.append([cid for cid, _ in lexical])
            weights.append(s.lexical_weight)
        return self._hits(rrf(rankings, weights, s.rrf_k), dense, k)

    def _hits(self, fused: list[tuple[str, float]], dense: dict[str, float], k: int) -> list[Hit]:
        stored = self.catalog.chunks_by_id(cid for cid, _ in fused[: k * 3])
        hits: list[Hit] = []
        for cid, score in fused:
            item = stored.get(cid)
            if item is None:  # a vector whose catalog row is gone (mid-write); skip it
                continue
            hits.append(hit_of(item, round(score, 6), dense.get(cid)))
            if len(hits) == k:
                break
        return hits
