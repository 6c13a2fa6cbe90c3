"""The indexer's embedding stage: a batch of parsed files whose texts are embedded while the next files are
parsed and chunked (texts already in the embedding cache are not embedded again)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ragd.connectors import Entry
from ragd.index.embed import Embedder, Vectors
from ragd.index.models import Chunk
from ragd.index.store.embed_cache import EmbeddingCache


@dataclass
class Parsed:
    entry: Entry
    digest: str
    chunks: list[Chunk]
    units: list[list[str]]  # per chunk, the texts embedded for it

    @property
    def texts(self) -> list[str]:
        return [t for units in self.units for t in units]


class Batch:
    """Files whose texts are being embedded: the cached vectors now, the others when ``vectors`` is called."""

    def __init__(self, files: list[Parsed], cache: EmbeddingCache, model_id: str,
                 embed: Callable[[list[str]], Future[Vectors] | Vectors]) -> None:
        self.files = files
        self.cache = cache
        self.model_id = model_id
        self.hashes, self.found, self.todo = cache.lookup(model_id, [t for p in files for t in p.texts])
        self.result = embed(list(self.todo.values())) if self.todo else None

    def vectors(self) -> tuple[list[Vectors], list[bool]]:
        """(vectors in text order, which were computed now); new ones go to the cache."""
        result, self.result = self.result, None
        computed: Iterable[Vectors] = []
        if result is not None:
            computed = result.result() if isinstance(result, Future) else result
        return self.cache.complete(self.model_id, self.hashes, self.found, self.todo, computed)


class Embedding:
    """Embeds batches in a thread of its own where the embedder allows token counting beside an embedding
    (the chunker counts tokens meanwhile); otherwise in the calling thread, in turn."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.embedder = embedder
        self.cache = cache
        concurrent = embedder.count_tokens_concurrent
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="embed") if concurrent else None

    def start(self, files: list[Parsed]) -> Batch:
        return Batch(files, self.cache, self.embedder.model_id, self._embed)

    def _embed(self, texts: list[str]) -> Future[Vectors] | Vectors:
        if self.executor is None:
            return self.embedder.embed_batch(texts, "passage")
        return self.executor.submit(self.embedder.embed_batch, texts, "passage")

    def __enter__(self) -> Embedding:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:  # a batch in flight finishes (it only computes); queued ones are dropped
            self.executor.shutdown(wait=True, cancel_futures=True)
