"""Every setting ragd reads, typed and checked in one place: the TOML file's keys and sections, and the
``RAGD_*`` variables that override them (``ragd config`` prints what is in effect and where each came from).

The file's top level holds the index's settings; ``[llm]``, ``[models.NAME]``, ``[server]``, ``[history]`` and
``[answer]`` hold the others. A wrong value is one ``ConfigError`` line naming the setting, what it must be and
where the value came from.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ragd.connectors.files import FollowMode
from ragd.index import plugins
from ragd.index.answer.history import HistorySettings
from ragd.index.errors import ConfigError
from ragd.index.llm.settings import DEFAULT_MODEL, LLMSettings, ModelSpec, with_default

DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMSection(Section):
    backend: str = "llama-cpp"  # an entry point of ragd.llm_backends: "llama-cpp" or "openai"
    model: str = DEFAULT_MODEL  # a [models.NAME] or a .gguf path
    context_tokens: int = Field(default=8192, ge=256, le=1 << 20)
    max_answer_tokens: int = Field(default=512, ge=16)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    threads: int = Field(default=0, ge=0)  # 0: the physical cores
    gpu_layers: int = 0
    idle_unload_s: float = Field(default=600.0, ge=0.0)
    base_url: str = ""  # backend = "openai"
    api_model: str = ""
    api_key_env: str = ""  # the variable that holds the server's key (never the key itself)
    timeout_s: float = Field(default=300.0, gt=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> LLMSection:
        backends = plugins.names(plugins.LLM_BACKENDS)
        if self.backend not in backends:
            raise ValueError(f"backend must be one of {', '.join(backends)}, not {self.backend!r}")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs base_url, e.g. http://127.0.0.1:8080/v1")
        if self.max_answer_tokens > self.context_tokens // 2:
            raise ValueError("max_answer_tokens must be at most half of context_tokens")
        return self


class ModelEntry(Section):
    path: str
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class ServerSection(Section):
    host: str = "127.0.0.1"  # another address needs --allow-remote (and is warned about)
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)  # 0: any free port (written to the daemon file)
    debounce_s: float = Field(default=0.3, ge=0.0)  # quiet time after a file's last event before it is indexed
    max_wait_s: float = Field(default=5.0, ge=0.0)
    reconcile_minutes: float = Field(default=10.0, ge=0.0)  # a full rescan that catches missed events; 0: off
    max_request_kb: int = Field(default=256, ge=1)  # request bodies above this get a 413
    store_call_limit_s: float = Field(default=600.0, ge=1.0)  # a vector store call hung this long ends the daemon

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @model_validator(mode="after")
    def _waits(self) -> ServerSection:
        if self.max_wait_s < self.debounce_s:
            raise ValueError("max_wait_s must be at least debounce_s")
        return self


class HistorySection(Section):
    enabled: bool = True
    retention_days: float = Field(default=0.0, ge=0.0)  # 0: keep forever

    @field_validator("retention_days")
    @classmethod
    def _finite(cls, days: float) -> float:
        if math.isnan(days):
            raise ValueError("must be a number >= 0 (0 = keep forever)")
        return days


class AnswerSection(Section):
    unsupported: Literal["mark", "drop"] = "mark"  # unsupported sentences: marked, or left out (it says so)
    # follow-ups made standalone: by the model ("model"), by the earlier turn's terms ("lexical"), or "auto":
    # the model when it is a capable one (an OpenAI-compatible server, or a GGUF file of 1 GB or more)
    rewrite: Literal["auto", "model", "lexical"] = "auto"


class MailSection(Section):
    poll_s: float = Field(default=60.0, gt=0.0)  # how often a mailbox (an imap:// source) is asked what changed
    timeout_s: float = Field(default=30.0, gt=0.0)  # a mail server that does not answer within this is unavailable


class Settings(Section):
    data_dir: str = ""  # empty: the platform's data folder
    embedder: str = "use+minilm"
    vector_store: str = "chroma"  # an entry point of ragd.vector_stores: "chroma" or "chroma-http"
    chroma_url: str = "http://127.0.0.1:8000"
    sources: tuple[str, ...] = ()  # folders from the config file, besides those added by `ragd index`
    include: tuple[str, ...] = ()  # glob patterns; empty = every supported file
    exclude: tuple[str, ...] = ()  # glob patterns, gitignore style
    max_file_mb: float = Field(default=64.0, gt=0.0)
    parse_timeout_s: float = Field(default=60.0, gt=0.0)
    parse_memory_mb: int = Field(default=2048, ge=256)  # address space; OCR (onnxruntime) fails under ~2 GB
    parse_workers: int = Field(default=1, ge=1, le=64)
    ocr_engine: Literal["auto", "rapidocr", "tesseract"] = "auto"  # auto: tesseract if installed; bench/ocr_engines
    ocr_timeout_s: float = Field(default=900.0, gt=0.0)  # a file that needs OCR: this, not parse_timeout_s
    chunk_tokens: int = Field(default=240, ge=16, le=8192)
    unit_tokens: int = Field(default=40, ge=1, le=8192)  # sentences shorter than this join the next one's vector
    min_free_mb: float = Field(default=64.0, ge=0.0)  # free space kept on the data disk; below it indexing waits
    follow_symlinks: FollowMode = "inside"  # links in a source: only to a place in a source, never, or always
    embed_idle_s: float = Field(default=30.0, ge=0.0)  # the embedding worker exits this long after its last call
    model_cache: str = ""  # files derived from the model weights (the int8 export); empty: <data_dir>/models
    llm: LLMSection = LLMSection()
    models: dict[str, ModelEntry] = {}
    server: ServerSection = ServerSection()
    history: HistorySection = HistorySection()
    answer: AnswerSection = AnswerSection()
    mail: MailSection = MailSection()

    @field_validator("sources", "include", "exclude", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        """A variable gives a list as ``a,b,c``; the file as a TOML array."""
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _known_store(self) -> Settings:
        stores = plugins.names(plugins.VECTOR_STORES)
        if self.vector_store not in stores:
            raise ValueError(f"vector_store must be one of {', '.join(stores)}, not {self.vector_store!r}")
        return self


SECTIONS = tuple(name for name, f in Settings.model_fields.items() if isinstance(f.default, Section))  # [llm] ...

# Each variable and the setting it overrides (section, key); the section's name is None for the top level.
ENV: dict[str, tuple[str | None, str]] = {
    "RAGD_EMBEDDER": (None, "embedder"),
    "RAGD_VECTOR_STORE": (None, "vector_store"),
    "RAGD_CHROMA_URL": (None, "chroma_url"),
    "RAGD_MAX_FILE_MB": (None, "max_file_mb"),
    "RAGD_PARSE_TIMEOUT_S": (None, "parse_timeout_s"),
    "RAGD_PARSE_MEMORY_MB": (None, "parse_memory_mb"),
    "RAGD_PARSE_WORKERS": (None, "parse_workers"),
    "RAGD_OCR_ENGINE": (None, "ocr_engine"),
    "RAGD_OCR_TIMEOUT_S": (None, "ocr_timeout_s"),
    "RAGD_CHUNK_TOKENS": (None, "chunk_tokens"),
    "RAGD_UNIT_TOKENS": (None, "unit_tokens"),
    "RAGD_MIN_FREE_MB": (None, "min_free_mb"),
    "RAGD_FOLLOW_SYMLINKS": (None, "follow_symlinks"),
    "RAGD_EMBED_IDLE_S": (None, "embed_idle_s"),
    "RAGD_MODEL_CACHE": (None, "model_cache"),
    "RAGD_LLM_BACKEND": ("llm", "backend"),
    "RAGD_LLM_MODEL": ("llm", "model"),
    "RAGD_LLM_BASE_URL": ("llm", "base_url"),
    "RAGD_LLM_API_MODEL": ("llm", "api_model"),
    "RAGD_LLM_CONTEXT_TOKENS": ("llm", "context_tokens"),
    "RAGD_LLM_MAX_ANSWER_TOKENS": ("llm", "max_answer_tokens"),
    "RAGD_HOST": ("server", "host"),
    "RAGD_PORT": ("server", "port"),
    "RAGD_DEBOUNCE_S": ("server", "debounce_s"),
    "RAGD_HISTORY": ("history", "enabled"),
    "RAGD_ANSWER_UNSUPPORTED": ("answer", "unsupported"),
    "RAGD_ANSWER_REWRITE": ("answer", "rewrite"),
    "RAGD_MAIL_POLL_S": ("mail", "poll_s"),
}
_FLAGS = {"on": True, "1": True, "true": True, "yes": True, "off": False, "0": False, "false": False, "no": False}


def llm_settings(settings: Settings, env: Mapping[str, str]) -> LLMSettings:
    """What the LLM back-ends are given: ``[llm]`` with the configured models, and the server's key read from the
    variable that ``api_key_env`` names."""
    s = settings.llm
    models = with_default({name: ModelSpec(name, Path(m.path).expanduser(), m.sha256.lower() if m.sha256 else None)
                           for name, m in settings.models.items()})
    return LLMSettings(backend=s.backend, model=s.model, models=models, context_tokens=s.context_tokens,
                       max_answer_tokens=s.max_answer_tokens, temperature=s.temperature, threads=s.threads,
                       gpu_layers=s.gpu_layers, idle_unload_s=s.idle_unload_s, base_url=s.base_url,
                       api_model=s.api_model, api_key=env.get(s.api_key_env) if s.api_key_env else None,
                       timeout_s=s.timeout_s)


def history_settings(settings: Settings) -> HistorySettings:
    return HistorySettings(enabled=settings.history.enabled, retention_days=settings.history.retention_days)


def where(section: str | None, key: str) -> str:
    """How a setting is named in messages: ``max_file_mb``, ``[llm] model``."""
    if section:
        return f"[{section}] {key}" if key else f"[{section}]"
    return key


def read(raw: Mapping[str, Any], env: Mapping[str, str], file: str) -> tuple[Settings, dict[str, str]]:
    """The settings from the file's parsed TOML (``raw``) with the variables of ``env`` over them, and where each
    set value came from (``"llm.model": "RAGD_LLM_MODEL"``; a value absent there is the default)."""
    values: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
    origins: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, Mapping) and key != "models":
            origins.update({f"{key}.{k}": file for k in value})
        else:
            origins[key] = file
    try:  # the file's values as TOML typed them: no "yes" for true, no string for a number
        Settings.model_validate(values, strict=True)
    except ValidationError as exc:
        raise ConfigError(_message(exc, origins)) from None
    for var, (section, key) in ENV.items():
        given = env.get(var, "").strip()
        if not given:
            continue
        if var == "RAGD_HISTORY":
            if given.lower() not in _FLAGS:
                raise ConfigError(f"RAGD_HISTORY must be on or off, not {env[var]!r}")
            value = _FLAGS[given.lower()]
        else:
            value = given
        target = values if section is None else values.setdefault(section, {})  # a table: the file's was checked
        target[key] = value
        origins[key if section is None else f"{section}.{key}"] = var
    try:
        return Settings.model_validate(values), origins
    except ValidationError as exc:
        raise ConfigError(_message(exc, origins)) from None


def _message(exc: ValidationError, origins: Mapping[str, str]) -> str:
    """The first problem as one line: the setting, what is wrong, and where its value came from."""
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    if error["type"] == "extra_forbidden":
        return f"config: unknown setting {where(*_split(loc))}"
    if error["type"] in ("model_type", "dict_type") and len(loc) <= 1:
        return f"config: [{loc[0]}] must be a table" if loc else f"config: {error['msg']}"
    message = error["msg"].removeprefix("Value error, ")
    if not loc:
        return f"config: {message}"
    section, key = _split(loc)
    source = origins.get(".".join(loc[:2]) if section else loc[0])
    said = f" (from {source})" if source and source.startswith("RAGD_") else ""
    shown = "" if error["type"] == "value_error" else f", not {error.get('input')!r}"
    return f"config: {where(section, key)}: {message}{shown}{said}"


def _split(loc: list[str]) -> tuple[str | None, str]:
    """(section, key) of an error's location: ``[llm] model``, ``[models.big] sha256``, or a top-level key."""
    if loc and loc[0] in SECTIONS:
        return loc[0], ".".join(loc[1:])
    if len(loc) >= 2 and loc[0] == "models":
        return f"models.{loc[1]}", ".".join(loc[2:]) or "path"
    return None, ".".join(loc)
