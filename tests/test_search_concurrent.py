"""Hybrid search runs its lexical side beside the dense side, over a real SQLite catalog and a real
chromadb collection; a failing vector store still leaves the lexical hits."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ragd.index.models import Chunk
from ragd.index.retrieve import Retriever
from ragd.index.store.catalog import Catalog, FileRecord, unit_ids
from ragd.index.store.vectors import ChromaVectors
from tests.fakes import HashingEmbedder

TEXTS = ["The lighthouse keeper logs every passing ship.", "Alpacas give soft wool on the high plateau.",
         "Basalt columns form when lava cools slowly.", "湖のほとりに古い灯台が立っている。"]


class Stores:
    def __init__(self, tmp, embedder: HashingEmbedder) -> None:
        self.catalog = Catalog(tmp / "catalog.sqlite")
        self.vectors = ChromaVectors.persistent(tmp / "chroma", embedder.model_id)
        rows = [(f"c{i}", f"h{i}", 1, Chunk(text=t, ordinal=i)) for i, t in enumerate(TEXTS)]
        self.catalog.replace_file(FileRecord("/notes/a.txt", 1, 0, "hash", "indexed", None, len(rows), time.time()),
                                  rows)
        self.vectors.upsert([u for cid, *_ in rows for u in unit_ids(cid, 1)], list(embedder.embed_batch(TEXTS)))


@pytest.fixture
def stores(tmp_path):
    s = Stores(tmp_path, HashingEmbedder())
    yield s
    s.catalog.close()


class FailingVectors:
    def __init__(self, inner: ChromaVectors) -> None:
        self.inner = inner

    def query(self, vector, k, ids=None):
        raise RuntimeError("the vector store is damaged")

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_hybrid_fuses_both_sides(stores):
    hits = Retriever(stores.catalog, stores.vectors, HashingEmbedder()).search("lighthouse keeper", 3)
    assert hits[0].chunk_id == "c0"
    assert hits[0].dense is not None and hits[0].dense > 0.5
    assert Retriever(stores.catalog, stores.vectors, HashingEmbedder()).search("灯台", 1)[0].chunk_id == "c3"


def test_a_failing_vector_store_still_returns_the_lexical_hits(stores):
    errors: list[Exception] = []
    retriever = Retriever(stores.catalog, FailingVectors(stores.vectors), HashingEmbedder(),
                          on_vector_error=errors.append)
    hits = retriever.search("basalt lava", 3)
    assert [h.chunk_id for h in hits] == ["c2"]
    assert hits[0].dense is None
    assert [str(e) for e in errors] == ["the vector store is damaged"]


def test_without_a_handler_the_vector_error_surfaces_after_the_lexical_side_is_done(stores, monkeypatch):
    finished = threading.Event()
    real = Catalog.lexical_search

    def slow(self, query, k, scope=None):
        time.sleep(0.2)
        try:
            return real(self, query, k, scope)
        finally:
            finished.set()

    monkeypatch.setattr(Catalog, "lexical_search", slow)
    with pytest.raises(RuntimeError, match="damaged"):
        Retriever(stores.catalog, FailingVectors(stores.vectors), HashingEmbedder()).search("basalt", 3)
    assert finished.is_set()  # the catalog's connection is not in use when the caller gets the error


def test_the_lexical_side_runs_while_the_dense_side_works(stores, monkeypatch):
    lexical_ran = threading.Event()
    real = Catalog.lexical_search

    def mark(self, query, k, scope=None):
        lexical_ran.set()
        return real(self, query, k, scope)

    class WaitingEmbedder(HashingEmbedder):
        def embed_batch(self, texts, kind="passage"):
            # the query is being embedded: the lexical search is already under way on another thread
            assert lexical_ran.wait(10)
            return super().embed_batch(texts, kind)

    monkeypatch.setattr(Catalog, "lexical_search", mark)
    hits = Retriever(stores.catalog, stores.vectors, WaitingEmbedder()).search("alpaca wool", 2)
    assert hits[0].chunk_id == "c1"


def test_an_empty_collection_answers_without_counting(tmp_path, monkeypatch):
    embedder = HashingEmbedder()
    vectors = ChromaVectors.persistent(tmp_path / "chroma", embedder.model_id)
    monkeypatch.setattr(ChromaVectors, "count", lambda self: pytest.fail("count() on the query path"))
    assert vectors.query(embedder.embed_batch(["anything"])[0], 10) == []
    vectors.upsert(["x.0"], [np.ones(embedder.dim, dtype=np.float32) / np.sqrt(embedder.dim)])
    assert [cid for cid, _ in vectors.query(embedder.embed_batch(["anything"])[0], 10)] == ["x.0"]
