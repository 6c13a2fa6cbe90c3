"""LLM backends behind one seam (``base.LLM``): llama.cpp in-process, or an OpenAI-compatible server."""

from __future__ import annotations

from ragd.index.llm.base import LLM
from ragd.index.llm.settings import LLMSettings


def create(settings: LLMSettings) -> LLM:
    """The configured backend. Nothing heavy is loaded until the first question."""
    if settings.backend == "openai":
        from ragd.index.llm.openai_server import OpenAIServerLLM

        return OpenAIServerLLM(settings.base_url, settings.api_model or "local-model", api_key=settings.api_key,
                               context_tokens=settings.context_tokens, timeout_s=settings.timeout_s)
    from ragd.index.llm.local import LlamaCppLLM

    return LlamaCppLLM(settings.selected(), context_cap=settings.context_tokens, threads=settings.threads,
                       gpu_layers=settings.gpu_layers, idle_unload_s=settings.idle_unload_s)
