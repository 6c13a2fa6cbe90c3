"""Builds the index's parts from a Config. No global state: callers hold the container."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ragd.connectors import Connector, SourceContext, kind_of, open_source
from ragd.connectors.file_rules import Unreadable
from ragd.daemon.config import Config
from ragd.daemon.server.store_watchdog import WatchedVectors
from ragd.daemon.settings import history_settings, llm_settings
from ragd.index import embed, llm
from ragd.index.answer.ask import Asker, AskSettings
from ragd.index.answer.conversations import Conversations
from ragd.index.answer.history import HistorySettings, remember
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.answer.verify import Verifier
from ragd.index.embed import Embedder
from ragd.index.errors import RagdError
from ragd.index.idle_pool import IdlePool
from ragd.index.isolate import ParseJob, ParsePool
from ragd.index.llm.base import LLM
from ragd.index.llm.settings import LLMSettings
from ragd.index.paths import resolve_path
from ragd.index.pipeline import Indexer
from ragd.index.retrieve import Retriever
from ragd.index.store.catalog import Catalog
from ragd.index.store.embed_cache import EmbeddingCache
from ragd.index.store.health import (
    IndexDamaged,
    Repair,
    catalog_problem,
    move_aside,
    salvage_sources,
    vector_store_problem,
)
from ragd.index.store.space import MB, SpaceGuard
from ragd.index.store.vectors import STORES, StoreSite, VectorStore

log = logging.getLogger(__name__)
CAPABLE_GGUF_BYTES = 1_000_000_000


@dataclass
class Container:
    config: Config
    readonly: bool = False
    embedder_override: Embedder | None = field(default=None)
    vectors_override: VectorStore | None = field(default=None)
    llm_override: LLM | None = field(default=None)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    repairs: list[Repair] = field(default_factory=list)  # damaged stores this container moved aside
    catalog_generation: int = 0  # which replacement of the catalog file ``catalog`` is connected to
    _source_connectors: tuple[tuple[str, ...], list[Connector]] = field(default=((), []), repr=False)
    store_call_limit_s: float | None = None  # the daemon bounds every vector store call (store_watchdog)

    @cached_property
    def catalog(self) -> Catalog:
        if not self.readonly:  # the writer (under the writer lock) checks the file before trusting it
            self.repair_catalog()
        return Catalog(self.config.catalog_path, readonly=self.readonly)

    @cached_property
    def cache(self) -> EmbeddingCache:
        return EmbeddingCache(self.config.cache_path)

    @cached_property
    def embedder(self) -> Embedder:
        return self.embedder_override or embed.create(self.config.embedder, self.config.model_cache_dir)

    @cached_property
    def vectors(self) -> VectorStore:
        store = self.vectors_override or self._open_vectors()
        return store if self.store_call_limit_s is None else WatchedVectors(store, self.store_call_limit_s)

    def _open_vectors(self) -> VectorStore:
        factory = STORES.get(self.config.vector_store)  # an entry point of ragd.vector_stores
        path = self.config.chroma_path
        if self.config.vector_store == "chroma":  # the embedded store's files are ours to check and repair
            problem = vector_store_problem(path)  # in a child process: a crash in native code stays there
            if problem is not None:
                if self.readonly:
                    raise IndexDamaged(f"the vector store in {path} is damaged ({problem}); `ragd repair` rebuilds "
                                       "it (so does the daemon when it starts)")
                self.record_repair(Repair("vector store", problem, "moved aside; rebuilt from the catalog and the "
                                          "embedding cache", str(move_aside(path)), time.time()))
        return factory(StoreSite(path, self.config.chroma_url), self.embedder.model_id)

    # -- damaged stores --------------------------------------------------------------------
    def repair_catalog(self) -> Repair | None:
        """Check the catalog (``PRAGMA quick_check``); a damaged one is moved aside and started anew with the
        sources it still yields, for the next scan to fill. Writers only, under the writer lock."""
        path = self.config.catalog_path
        problem = catalog_problem(path)
        if problem is None:
            return None
        opened = self.__dict__.get("catalog")
        if opened is not None:
            opened.close()
        sources = salvage_sources(path)
        repair = Repair("catalog", problem, f"moved aside; started anew with its {len(sources)} source(s), "
                        "re-indexed from the files and the embedding cache",
                        str(move_aside(path, "-wal", "-shm", "-journal")), time.time())
        fresh = Catalog(path)
        for spec, kind in sources:
            fresh.add_source(spec, kind)
        fresh.close()
        if opened is not None:
            opened.reopen()
        self.record_repair(repair)
        return repair

    def reopen_catalog(self, generation: int) -> None:
        """Connect again to a catalog file that was replaced (a reader, after the writer's repair)."""
        if "catalog" in self.__dict__:
            self.catalog.reopen()
        self.catalog_generation = generation

    def record_repair(self, repair: Repair) -> None:
        log.warning("the %s was damaged (%s): %s to %s", repair.store, repair.problem, repair.action, repair.moved_to)
        self.repairs.append(repair)

    def parse_pool(self) -> ParsePool:
        c = self.config
        return ParsePool(workers=c.parse_workers, timeout_s=c.parse_timeout_s, memory_mb=c.parse_memory_mb,
                         ocr_cache=c.ocr_cache_dir, ocr_engine=c.ocr_engine, ocr_timeout_s=c.ocr_timeout_s)

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(self.catalog, self.cache, self.vectors, self.embedder, self.parse_pool,
                       chunk_tokens=self.config.chunk_tokens, space=self.space,
                       unit_tokens=self.config.unit_tokens)

    @cached_property
    def space(self) -> SpaceGuard:
        """The free space the index keeps in reserve on the data folder's disk."""
        return SpaceGuard(self.config.data_dir, int(self.config.min_free_mb * MB))

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.catalog, self.vectors, self.embedder)

    def connector(self, spec: str, *, sources: Sequence[str] | None = None, unreadable: Unreadable | None = None,
                  kind: str | None = None) -> Connector:
        """The connector of the source ``spec``, of ``kind`` (default: the kind the catalog stored for it, else the
        kind its spec names); ``sources`` (default: ``source_paths()``) decides which links lead "inside" a
        source, ``unreadable`` collects the folders its scans cannot read. Given both ``sources`` and ``kind``,
        the catalog is not read (a request thread may ask)."""
        context = SourceContext(self.config, self.env, self.source_paths() if sources is None else sources,
                                unreadable)
        return open_source(spec, context, kind or self.catalog.source_kinds().get(spec) or kind_of(spec))

    def probe(self, spec: str) -> str:
        """SourceError (or ConfigError) unless ``spec`` names a source that can be read now; returns its kind."""
        connector = self.connector(spec, sources=[spec], kind=kind_of(spec))
        try:
            connector.probe()
        finally:
            connector.close()
        return connector.kind

    def source_connectors(self) -> list[Connector]:
        """A connector for every source (the answer path reads items through them), made once per set of
        sources."""
        specs = tuple(self.source_paths())
        if self._source_connectors[0] != specs:
            for old in self._source_connectors[1]:
                old.close()
            self._source_connectors = (specs, [self.connector(s, sources=specs) for s in specs])
        return self._source_connectors[1]

    def read_item(self, key: str) -> ParseJob | None:
        """An item's bytes read now through the connector of its source (None if none holds it, or it is
        gone or unreadable)."""
        owner = next((c for c in self.source_connectors() if c.covers(key)), None)
        entry = owner.entry(key) if owner is not None else None
        if owner is None or entry is None:
            return None
        try:
            return ParseJob(entry.parse_name, owner.read(key))
        except OSError as exc:
            log.info("cannot read %s again: %s", key, exc)
            return None

    def configured_sources(self) -> set[str]:
        """The sources named in the config file, resolved as the catalog stores paths."""
        return {resolve_path(p) for p in self.config.sources}

    def source_paths(self) -> list[str]:
        return sorted(self.configured_sources() | set(self.catalog.sources()))

    # -- the answer path -------------------------------------------------------------------
    @cached_property
    def llm_settings(self) -> LLMSettings:
        return llm_settings(self.config, self.env)

    @cached_property
    def llm(self) -> LLM:
        return self.llm_override or llm.create(self.llm_settings)

    @property
    def llm_loaded(self) -> bool:
        """Whether the model has been made yet (``llm`` is made on first use)."""
        return "llm" in self.__dict__

    @cached_property
    def _verify_pool(self) -> IdlePool:
        return IdlePool(self.parse_pool)

    def release_idle_parsers(self, idle_s: float) -> bool:
        """Stop the answer path's parse workers if unused for ``idle_s`` (they start again when needed)."""
        return "_verify_pool" in self.__dict__ and self._verify_pool.close_if_idle(idle_s)

    @cached_property
    def verifier(self) -> Verifier:
        return Verifier(self._verify_pool.parse, read_item=self.read_item)

    @cached_property
    def asker(self) -> Asker:
        s = self.llm_settings
        settings = AskSettings(answer_tokens=s.max_answer_tokens, temperature=s.temperature,
                               unsupported=self.config.answer.unsupported, rewrite=self.rewrite_mode())
        return Asker(self.retriever, self.catalog, lambda: self.llm, self.verifier, settings)

    def rewrite_mode(self) -> str:
        """How follow-ups are made standalone: ``[answer] rewrite``, with "auto" the model only when it is a
        capable one (a server's, or a GGUF file of ``CAPABLE_GGUF_BYTES`` or more: about 1.5B parameters at
        4 bits); a tiny model's rewrites lose more than the carried terms do (bench/multiturn.py)."""
        choice = self.config.answer.rewrite
        if choice != "auto":
            return choice
        s = self.llm_settings
        if self.llm_override is not None or s.backend == "llama-cpp":
            try:
                size = s.selected().path.stat().st_size if self.llm_override is None else 0
            except (OSError, RagdError):
                size = 0
            return "model" if size >= CAPABLE_GGUF_BYTES else "lexical"
        return "model"

    @cached_property
    def conversations(self) -> Conversations:
        return Conversations(self.history_path, self.history_settings)

    def options(self, options: AskOptions | None) -> AskOptions:
        """``options`` with the conversation's earlier turns read in (unless the caller gave them)."""
        opts = options or AskOptions()
        if opts.conversation is None or opts.turns:
            return opts
        return AskOptions(scope=opts.scope, conversation=opts.conversation,
                          turns=self.conversations.turns(opts.conversation))

    @cached_property
    def history_settings(self) -> HistorySettings:
        return history_settings(self.config)

    @property
    def history_path(self) -> Path:
        return self.config.history_path

    def remember(self, answer: Answer) -> int | None:
        self.conversations.answered(answer)
        return remember(answer, self.history_path, self.history_settings)

    def close(self) -> None:
        """Release what was opened (the catalog, parser workers, the model)."""
        opened = self.__dict__
        if "catalog" in opened:
            self.catalog.close()
        if "_verify_pool" in opened:
            self._verify_pool.close()
        for connector in self._source_connectors[1]:
            connector.close()
        self._source_connectors = ((), [])
        if "llm" in opened:
            self.llm.close()
