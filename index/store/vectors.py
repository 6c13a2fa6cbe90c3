"""The VectorStore seam and its chromadb implementations (embedded and client/server).

Chroma holds only ids and our own vectors (no embedding function, telemetry off, inner-product
space: embedders return vectors whose dot product is the similarity); the text
and locations live in the catalog, so a Chroma server never needs to see file contents.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ragd.index import plugins
from ragd.index.embed import Vectors
from ragd.index.errors import ConfigError
from ragd.index.plugins import Registry

log = logging.getLogger(__name__)


class VectorStore(Protocol):
    def upsert(self, ids: Sequence[str], vectors: Sequence[Vectors]) -> None: ...
    def delete(self, ids: Sequence[str]) -> None: ...
    def query(self, vector: Vectors, k: int, ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """Nearest ids with their similarity (inner product), best first; with ``ids``, only among those."""
        ...
    def ids(self) -> set[str]: ...
    def count(self) -> int: ...
    def reset(self) -> None:
        """Start the collection anew, empty (a damaged one is dropped; the writer then restores the vectors)."""
        ...

    def drop_others(self) -> list[str]:
        """Drop the collections of other models (after a re-embed with a new one); returns their names. A store
        that keeps one collection has none to drop."""
        return []


@dataclass(frozen=True)
class StoreSite:
    """Where a vector store keeps its collections: a folder (embedded) or a server's address."""

    path: Path
    url: str


StoreFactory = Callable[[StoreSite, str], VectorStore]  # (where, the embedder's model id) -> the store
STORES: Registry[StoreFactory] = Registry(plugins.VECTOR_STORES, "vector store")


def embedded_chroma(site: StoreSite, model_id: str) -> VectorStore:
    """``vector_store = "chroma"``: chromadb in this process, its files in the data folder."""
    return ChromaVectors.persistent(site.path, model_id)


def chroma_server(site: StoreSite, model_id: str) -> VectorStore:
    """``vector_store = "chroma-http"``: a Chroma server at ``chroma_url``."""
    return ChromaVectors.http(site.url, model_id)


def collection_name(model_id: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", model_id).strip("-._")
    return f"ragd-{slug}"[:200]


def _settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


class ChromaVectors(VectorStore):
    """A chromadb collection for one embedding model."""

    def __init__(self, client: Any, model_id: str, *, paged_listing: bool = True) -> None:
        self.client = client
        self.paged_listing = paged_listing
        self.name = collection_name(model_id)
        self.collection = client.get_or_create_collection(
            self.name, configuration={"hnsw": {"space": "ip"}}, embedding_function=None,
            metadata={"model_id": model_id})
        self.batch = max(1, min(int(client.get_max_batch_size()), 4000))

    @classmethod
    def persistent(cls, path: Path, model_id: str) -> ChromaVectors:
        import chromadb

        path.mkdir(parents=True, exist_ok=True)
        # embedded, the whole id list comes back in one call: pages cost more, since each one re-reads its offset
        return cls(chromadb.PersistentClient(path=str(path), settings=_settings()), model_id, paged_listing=False)

    @classmethod
    def http(cls, url: str, model_id: str) -> ChromaVectors:
        from urllib.parse import urlparse

        import chromadb

        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"chroma_url must look like http://host:port, not {url!r}")
        try:
            client = chromadb.HttpClient(host=parsed.hostname, port=parsed.port or 8000,
                                         ssl=parsed.scheme == "https", settings=_settings())
            client.heartbeat()
        except Exception as exc:  # connection refused, DNS ...: a user error, not a crash
            raise ConfigError(f"cannot reach the Chroma server at {url}: {exc}") from exc
        return cls(client, model_id)

    def upsert(self, ids: Sequence[str], vectors: Sequence[Vectors]) -> None:
        for i in range(0, len(ids), self.batch):
            block = np.asarray(vectors[i : i + self.batch], dtype=np.float32)
            self.collection.upsert(ids=list(ids[i : i + self.batch]), embeddings=block)

    def delete(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), self.batch):
            self.collection.delete(ids=list(ids[i : i + self.batch]))

    def query(self, vector: Vectors, k: int, ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        # no count() first: chromadb returns what it has when asked for more (nothing from an empty
        # collection), and counting cost a round trip per search
        if ids is not None and not ids:
            return []
        res = self.collection.query(query_embeddings=np.asarray([vector], dtype=np.float32),
                                    n_results=k, include=["distances"], ids=None if ids is None else list(ids))
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def ids(self) -> set[str]:
        if not self.paged_listing:
            return set(self.collection.get(include=[])["ids"])
        out: set[str] = set()  # a server's responses stay bounded, at the cost of re-reading each page's offset
        offset = 0
        while True:
            res = self.collection.get(include=[], limit=self.batch, offset=offset)
            out.update(res["ids"])
            if len(res["ids"]) < self.batch:
                return out
            offset += self.batch

    def count(self) -> int:
        return int(self.collection.count())

    def reset(self) -> None:
        try:
            self.client.delete_collection(self.name)
        except Exception as exc:  # a collection too damaged to drop: its name is taken again below regardless
            log.warning("could not drop the damaged collection %s: %s", self.name, exc)
        self.collection = self.client.get_or_create_collection(
            self.name, configuration={"hnsw": {"space": "ip"}}, embedding_function=None,
            metadata=self.collection.metadata)

    def drop_others(self) -> list[str]:
        """Delete this index's collections of other models (after a model change); returns their names."""
        dropped = []
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith("ragd-") and name != self.name:
                self.client.delete_collection(name)
                dropped.append(name)
        return dropped
