"""The Embedder seam: one abstract method, ``embed_batch``; conveniences derive from it.

Built-ins register by name the same way an extension would. Each is loaded lazily: the
heavy import (torch, numpy weights) happens on first use, never at ``import ragd``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Kind = Literal["passage", "query"]


class Embedder(Protocol):
    model_id: str  # stored with the index; a different id means re-embedding
    dim: int
    max_tokens: int  # longest input the model reads without truncating

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        """float32 vectors, one row per text, whose dot product is the similarity
        (L2-normalised for a single model)."""
        ...

    def count_tokens(self, text: str) -> int: ...


def embed_one(embedder: Embedder, text: str, kind: Kind = "query") -> Vectors:
    row: Vectors = embedder.embed_batch([text], kind)[0]
    return row


Factory = Callable[[Path | None], Embedder]  # takes the folder where derived model files are cached
_FACTORIES: dict[str, Factory] = {}
DEFAULT = "use+minilm"


def register(name: str, factory: Factory) -> None:
    _FACTORIES[name] = factory


def available() -> list[str]:
    _register_builtins()
    return sorted(_FACTORIES)


def create(name: str, model_cache: Path | None = None) -> Embedder:
    """The embedder registered as ``name``; ``model_cache`` holds files derived from its weights (the int8
    ONNX export; None: the user's cache folder)."""
    from ragd.index.errors import ConfigError

    _register_builtins()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ConfigError(f"unknown embedding model {name!r}; choose one of {', '.join(available())}") from None
    return factory(model_cache)


_BUILTINS = {"minilm", "minilm-fp32", "use-multilingual", "e5-small", "use+minilm", "use+minilm-fp32"}


def _register_builtins() -> None:
    if _FACTORIES.keys() >= _BUILTINS:
        return
    from ragd.index.embed.dual import UseMiniLM
    from ragd.index.embed.e5 import E5Small
    from ragd.index.embed.minilm import MiniLM, MiniLMOnnx
    from ragd.index.embed.use import UseMultilingual

    _FACTORIES.setdefault("minilm", lambda cache: MiniLMOnnx(cache))
    _FACTORIES.setdefault("minilm-fp32", lambda cache: MiniLM())
    _FACTORIES.setdefault("use-multilingual", lambda cache: UseMultilingual())
    _FACTORIES.setdefault("e5-small", lambda cache: E5Small())
    _FACTORIES.setdefault("use+minilm", lambda cache: UseMiniLM(MiniLMOnnx(cache)))
    _FACTORIES.setdefault("use+minilm-fp32", lambda cache: UseMiniLM(MiniLM()))


def normalise(vectors: npt.ArrayLike) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)
