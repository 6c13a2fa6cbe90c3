"""llama-cpp-python in-process: any GGUF file, loaded lazily, unloaded after an idle time.

The file is checked by the bounded GGUF reader (and against a pinned SHA-256, if one is
configured) before llama.cpp opens it. The chat template is the model's own, from the GGUF
metadata; llama-cpp-python renders it when no chat format is forced.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ragd.index.items import file_hash
from ragd.index.llm.base import LLMError, Message
from ragd.index.llm.gguf import GGUFInfo, read_gguf
from ragd.index.llm.settings import ModelSpec

log = logging.getLogger(__name__)


def physical_cores() -> int:
    try:
        import psutil

        cores = psutil.cpu_count(logical=False)
        if cores:
            return int(cores)
    except ImportError:
        pass
    return max(1, (os.cpu_count() or 2) // 2)


def check_model_file(spec: ModelSpec) -> GGUFInfo:
    """Everything that must hold before llama.cpp may open ``spec.path``; LLMError otherwise."""
    path = spec.path
    if not path.is_file():
        raise LLMError(f"model file not found: {path}")
    info = read_gguf(path)  # GGUFError (a RagdError) on a malformed file
    if spec.sha256 and file_hash(str(path)) != spec.sha256:
        raise LLMError(f"model file {path} does not match its pinned sha256 (config [models.{spec.name}])")
    if not info.chat_template:
        raise LLMError(f"model file {path.name} has no chat template in its metadata; use an instruct/chat model")
    return info


class LlamaCppLLM:
    """One GGUF model in this process. Thread-safe: one generation at a time."""

    def __init__(self, spec: ModelSpec, *, context_cap: int = 8192, threads: int = 0, gpu_layers: int = 0,
                 idle_unload_s: float = 600.0) -> None:
        self.spec = spec
        self.info = check_model_file(spec)
        trained = self.info.context_length or 2048
        self._n_ctx = min(trained, context_cap)
        self.threads = threads or physical_cores()
        self.gpu_layers = gpu_layers
        self.idle_unload_s = idle_unload_s
        self._llama: Any = None
        self._lock = threading.RLock()
        self.last_used = time.monotonic()

    @property
    def model_id(self) -> str:
        return f"gguf:{self.spec.path.name}"

    @property
    def context_length(self) -> int:
        return self._n_ctx

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def _model(self) -> Any:
        with self._lock:
            self.last_used = time.monotonic()
            if self._llama is None:
                try:
                    from llama_cpp import Llama
                except ImportError as exc:
                    raise LLMError("llama-cpp-python is not installed (pip install llama-cpp-python)") from exc
                log.info("loading %s (n_ctx %d, %d threads)", self.spec.path, self._n_ctx, self.threads)
                try:
                    self._llama = Llama(model_path=str(self.spec.path), n_ctx=self._n_ctx, n_threads=self.threads,
                                        n_gpu_layers=self.gpu_layers, verbose=False)
                except (ValueError, RuntimeError) as exc:
                    raise LLMError(f"llama.cpp could not load {self.spec.path.name}: {exc}") from None
            return self._llama

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        with self._lock:
            llama = self._model()
            try:
                chunks = llama.create_chat_completion(messages=[m.to_json() for m in messages], max_tokens=max_tokens,
                                                      temperature=temperature, stream=True)
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as exc:  # e.g. the prompt does not fit the context window
                raise LLMError(f"the model could not answer: {exc}") from None
            finally:
                self.last_used = time.monotonic()

    def unload_if_idle(self, now: float | None = None) -> bool:
        """Free the model's memory if no question came for ``idle_unload_s`` (a scheduler calls this)."""
        now = time.monotonic() if now is None else now
        if not self._lock.acquire(blocking=False):
            return False  # answering right now
        try:
            if self._llama is None or now - self.last_used < self.idle_unload_s:
                return False
            self.close()
            return True
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
