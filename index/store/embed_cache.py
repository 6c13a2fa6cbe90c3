"""Embedding cache keyed by (model id, hash of the embedded text): unchanged text is never
embedded twice, so a rename re-embeds nothing and an edit only re-embeds what changed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ragd.index.embed import Embedder, Vectors
from ragd.index.store.sqlite import connect


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        self.conn = connect(path)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, hash TEXT NOT NULL,"
            " vector BLOB NOT NULL, PRIMARY KEY (model, hash)) WITHOUT ROWID")
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def get_many(self, model: str, hashes: Sequence[str]) -> dict[str, Vectors]:
        out: dict[str, Vectors] = {}
        unique = list(dict.fromkeys(hashes))
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                f"SELECT hash, vector FROM embeddings WHERE model=? AND hash IN ({marks})", (model, *part))
            for h, blob in rows:
                out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, model: str, items: dict[str, Vectors]) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO embeddings(model, hash, vector) VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()])

    def lookup(self, model: str, texts: Sequence[str]) -> tuple[list[str], dict[str, Vectors], dict[str, str]]:
        """(each text's hash, the vectors found by hash, the texts to embed by hash)."""
        hashes = [text_hash(t) for t in texts]
        found = self.get_many(model, hashes)
        return hashes, found, {h: t for h, t in zip(hashes, texts, strict=True) if h not in found}

    def complete(self, model: str, hashes: Sequence[str], found: dict[str, Vectors], todo: dict[str, str],
                 computed: Iterable[Vectors]) -> tuple[list[Vectors], list[bool]]:
        """Store ``computed`` (the vectors of ``todo``, in its order); returns (vectors, which were new)."""
        if todo:
            fresh = dict(zip(todo.keys(), computed, strict=True))
            self.put_many(model, fresh)
            found.update(fresh)
        return [found[h] for h in hashes], [h in todo for h in hashes]

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> tuple[list[Vectors], list[bool]]:
        """Vectors for ``texts`` (passages), from the cache where possible; returns (vectors, which were new)."""
        hashes, found, todo = self.lookup(embedder.model_id, texts)
        computed: Iterable[Vectors] = embedder.embed_batch(list(todo.values()), "passage") if todo else []
        return self.complete(embedder.model_id, hashes, found, todo, computed)
