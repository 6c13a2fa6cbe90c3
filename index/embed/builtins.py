"""ragd's own embedders, each a factory taking the folder for files derived from its weights (the int8 export).
They are registered as entry points of the ``ragd.embedders`` group in ``pyproject.toml``, as an extension's
would be; the heavy imports happen when one is made."""

from __future__ import annotations

from pathlib import Path

from ragd.index.embed import Embedder


def minilm(model_cache: Path | None) -> Embedder:
    from ragd.index.embed.minilm import MiniLMOnnx

    return MiniLMOnnx(model_cache)


def minilm_fp32(model_cache: Path | None) -> Embedder:
    from ragd.index.embed.minilm import MiniLM

    return MiniLM()


def use_multilingual(model_cache: Path | None) -> Embedder:
    from ragd.index.embed.use import UseMultilingual

    return UseMultilingual()


def e5_small(model_cache: Path | None) -> Embedder:
    from ragd.index.embed.e5 import E5Small

    return E5Small()


def use_minilm(model_cache: Path | None) -> Embedder:
    from ragd.index.embed.dual import UseMiniLM
    from ragd.index.embed.minilm import MiniLMOnnx

    return UseMiniLM(MiniLMOnnx(model_cache))


def use_minilm_fp32(model_cache: Path | None) -> Embedder:
    from ragd.index.embed.dual import UseMiniLM
    from ragd.index.embed.minilm import MiniLM

    return UseMiniLM(MiniLM())
