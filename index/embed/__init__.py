"""The Embedder seam: one abstract method, ``embed_batch``; conveniences derive from it.

Embedders are found through the ``ragd.embedders`` entry points, ragd's own (``builtins``) as an extension's.
Each is made lazily: the heavy import (torch, numpy weights) happens on first use, never at ``import ragd``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from ragd.index import plugins
from ragd.index.plugins import Registry

Vectors = npt.NDArray[np.float32]
Kind = Literal["passage", "query"]


class Embedder(Protocol):
    model_id: str  # stored with the index; a different id means re-embedding
    dim: int
    max_tokens: int  # longest input the model reads without truncating
    # capabilities, with the defaults an implementation inherits when it subclasses ``Embedder``:
    token_count_revision: int | None = None  # bumped when count_tokens changes (part of the index signature)
    count_tokens_concurrent: bool = False  # count_tokens may run in another thread beside embed_batch

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        """float32 vectors, one row per text, whose dot product is the similarity
        (L2-normalised for a single model)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def set_threads(self, threads: int) -> None:
        """Run the model on this many threads from the next call (one that cannot choose ignores it)."""
        return None


def embed_one(embedder: Embedder, text: str, kind: Kind = "query") -> Vectors:
    row: Vectors = embedder.embed_batch([text], kind)[0]
    return row


Factory = Callable[[Path | None], Embedder]  # takes the folder where derived model files are cached
DEFAULT = "use+minilm"
EMBEDDERS: Registry[Factory] = Registry(plugins.EMBEDDERS, "embedding model")


def register(name: str, factory: Factory) -> None:
    EMBEDDERS.add(name, factory)


def available() -> list[str]:
    return EMBEDDERS.names()


def create(name: str, model_cache: Path | None = None) -> Embedder:
    """The embedder registered as ``name`` (an entry point of ``ragd.embedders``); ``model_cache`` holds files
    derived from its weights (the int8 ONNX export; None: the user's cache folder)."""
    return EMBEDDERS.get(name)(model_cache)


def normalise(vectors: npt.ArrayLike) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)
