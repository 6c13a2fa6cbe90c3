"""Builds the index's parts from a Config. No global state: callers hold the container."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ragd.connectors.files import FileFilter, FilesConnector
from ragd.daemon.config import Config
from ragd.index import embed, llm
from ragd.index.answer.ask import Asker, AskSettings
from ragd.index.answer.history import HistorySettings, load_history_settings, remember
from ragd.index.answer.models import Answer
from ragd.index.answer.verify import Verifier
from ragd.index.embed import Embedder
from ragd.index.isolate import ParsePool
from ragd.index.llm.base import LLM
from ragd.index.llm.settings import LLMSettings, load_llm_settings
from ragd.index.pipeline import Indexer
from ragd.index.retrieve import Retriever
from ragd.index.store.catalog import Catalog
from ragd.index.store.embed_cache import EmbeddingCache
from ragd.index.store.vectors import ChromaVectors, VectorStore


@dataclass
class Container:
    config: Config
    readonly: bool = False
    embedder_override: Embedder | None = field(default=None)
    vectors_override: VectorStore | None = field(default=None)
    llm_override: LLM | None = field(default=None)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.config.catalog_path, readonly=self.readonly)

    @cached_property
    def cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.config.cache_path)

    @cached_property
    def embedder(self) -> Embedder:
        return self.embedder_override or embed.create(self.config.embedder)

    @cached_property
    def vectors(self) -> VectorStore:
        if self.vectors_override is not None:
            return self.vectors_override
        model_id = self.embedder.model_id
        if self.config.vector_store == "chroma-http":
            return ChromaVectors.http(self.config.chroma_url, model_id)
        return ChromaVectors.persistent(self.config.chroma_path, model_id)

    def parse_pool(self) -> ParsePool:
        c = self.config
        return ParsePool(workers=c.parse_workers, timeout_s=c.parse_timeout_s, memory_mb=c.parse_memory_mb)

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(self.catalog, self.cache, self.vectors, self.embedder, self.parse_pool,
                       chunk_tokens=self.config.chunk_tokens)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.catalog, self.vectors, self.embedder)

    def connector(self, root: str) -> FilesConnector:
        c = self.config
        return FilesConnector(root, FileFilter(include=c.include, exclude=c.exclude,
                                               max_bytes=int(c.max_file_mb * 1024 * 1024)))

    def source_paths(self) -> list[str]:
        configured = [str(Path(p).expanduser().resolve()) for p in self.config.sources]
        return sorted(set(configured) | set(self.catalog.sources()))

    # -- the answer path -------------------------------------------------------------------
    @cached_property
    def llm_settings(self) -> LLMSettings:
        return load_llm_settings(self.config.extra, self.env)

    @cached_property
    def llm(self) -> LLM:
        return self.llm_override or llm.create(self.llm_settings)

    @cached_property
    def _verify_pool(self) -> ParsePool:
        return self.parse_pool()

    @cached_property
    def verifier(self) -> Verifier:
        return Verifier(self._verify_pool.parse)

    @cached_property
    def asker(self) -> Asker:
        s = self.llm_settings
        settings = AskSettings(answer_tokens=s.max_answer_tokens, temperature=s.temperature)
        return Asker(self.retriever, self.catalog, lambda: self.llm, self.verifier, settings)

    @cached_property
    def history_settings(self) -> HistorySettings:
        return load_history_settings(self.config.extra, self.env)

    @property
    def history_path(self) -> Path:
        return self.config.data_dir / "history.sqlite"

    def remember(self, answer: Answer) -> int | None:
        return remember(answer, self.history_path, self.history_settings)

    def close(self) -> None:
        """Release what was opened (the catalog, parser workers, the model)."""
        opened = self.__dict__
        if "catalog" in opened:
            self.catalog.close()
        if "_verify_pool" in opened:
            self._verify_pool.close()
        if "llm" in opened:
            self.llm.close()
