"""Fakes that plug into the real seams (Embedder, VectorStore) for fast unit tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ragd.index.embed import Embedder, Kind, Vectors, normalise
from ragd.index.llm.base import Message
from ragd.index.store.vectors import VectorStore

_CJK = "\u3040-\u30ff\u3400-\u9fff"
_WORDS = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


class HashingEmbedder(Embedder):
    """Bag-of-words hashed into a small vector: similar words → similar vectors, deterministic. Japanese text
    (no spaces) counts character by character, so that it is similar to itself in other sentences too."""

    model_id = "test/hashing-64"
    dim = 64
    max_tokens = 512

    def __init__(self) -> None:
        self.calls = 0
        self.texts_embedded = 0

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORDS.findall(text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[i, 0] += 0.01  # never an all-zero vector
        return normalise(out)

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))


class MemoryVectors(VectorStore):
    """An exact in-memory vector store."""

    def __init__(self) -> None:
        self.data: dict[str, Vectors] = {}

    def upsert(self, ids: Sequence[str], vectors: Sequence[Vectors]) -> None:
        for cid, v in zip(ids, vectors, strict=True):
            self.data[cid] = np.asarray(v, dtype=np.float32)

    def delete(self, ids: Sequence[str]) -> None:
        for cid in ids:
            self.data.pop(cid, None)

    def query(self, vector: Vectors, k: int, ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        allowed = None if ids is None else set(ids)
        scored = sorted(((float(v @ vector), cid) for cid, v in self.data.items()
                         if allowed is None or cid in allowed), reverse=True)
        return [(cid, s) for s, cid in scored[:k]]

    def ids(self) -> set[str]:
        return set(self.data)

    def count(self) -> int:
        return len(self.data)

    def reset(self) -> None:
        self.data.clear()


DEMO_MODEL_ID = "gguf:SmolLM2-135M-Instruct.Q4_1.gguf"  # the packaged demo model, as answers name it


class ScriptedLLM:
    """An LLM that replies with a fixed text (or a function of the prompt), token by token."""

    def __init__(self, reply: str | Callable[[str], str], context_length: int = 4096,
                 model_id: str = "test/scripted") -> None:
        self.reply = reply
        self.model_id = model_id
        self.context_length = context_length
        self.prompts: list[str] = []
        self.closed = False

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        prompt = "\n".join(m.content for m in messages)
        self.prompts.append(prompt)
        text = self.reply(prompt) if callable(self.reply) else self.reply
        yield from re.findall(r"\S+\s*", text)[:max_tokens]

    def unload_if_idle(self, now: float | None = None) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
