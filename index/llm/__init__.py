"""LLM backends behind one seam (``base.LLM``): llama.cpp in-process, or an OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Callable

from ragd.index import plugins
from ragd.index.llm.base import LLM
from ragd.index.llm.settings import LLMSettings
from ragd.index.plugins import Registry

Backend = Callable[[LLMSettings], LLM]  # the settings of [llm] -> a model, loaded on the first question
BACKENDS: Registry[Backend] = Registry(plugins.LLM_BACKENDS, "LLM backend")


def create(settings: LLMSettings) -> LLM:
    """The configured backend (an entry point of ``ragd.llm_backends``). Nothing heavy is loaded until the first
    question."""
    return BACKENDS.get(settings.backend)(settings)


def llama_cpp_backend(settings: LLMSettings) -> LLM:
    """``backend = "llama-cpp"``: a GGUF file run in this process."""
    from ragd.index.llm.local import LlamaCppLLM

    return LlamaCppLLM(settings.selected(), context_cap=settings.context_tokens, threads=settings.threads,
                       gpu_layers=settings.gpu_layers, idle_unload_s=settings.idle_unload_s)


def openai_backend(settings: LLMSettings) -> LLM:
    """``backend = "openai"``: any OpenAI-compatible server."""
    from ragd.index.llm.openai_server import OpenAIServerLLM

    return OpenAIServerLLM(settings.base_url, settings.api_model or "local-model", api_key=settings.api_key,
                           context_tokens=settings.context_tokens, timeout_s=settings.timeout_s)
