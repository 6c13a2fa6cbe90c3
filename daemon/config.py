"""Configuration: a TOML file in the platform's config dir, overridden by ``RAGD_*`` variables.

``RAGD_HOME=DIR`` puts config, data and state under one folder (tests and benchmarks use it).
The environment is passed in, never read from ``os.environ`` deep inside the code.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragd.connectors.files import FOLLOW_MODES
from ragd.index import plugins
from ragd.index.errors import ConfigError

APP = "ragd"


@dataclass(frozen=True)
class Config:
    config_file: Path
    data_dir: Path
    state_dir: Path
    embedder: str = "use+minilm"
    vector_store: str = "chroma"  # "chroma" (embedded) | "chroma-http" (a Chroma server)
    chroma_url: str = "http://127.0.0.1:8000"
    sources: tuple[str, ...] = ()  # folders from the config file, besides those added by `ragd index`
    include: tuple[str, ...] = ()  # glob patterns; empty = every supported file
    exclude: tuple[str, ...] = ()  # glob patterns, gitignore style
    max_file_mb: float = 64.0
    parse_timeout_s: float = 60.0
    parse_memory_mb: int = 1536
    parse_workers: int = 1
    chunk_tokens: int = 240
    unit_tokens: int = 40  # sentences shorter than this are embedded with the next one (fewer vectors when larger)
    min_free_mb: float = 64.0  # free space kept on the data folder's disk: below it, indexing waits (status says so)
    follow_symlinks: str = "inside"  # links in a source: "inside" (only to a place in a source), "never", "always"
    embed_idle_s: float = 30.0  # the daemon's embedding worker exits this long after its last call (0: never)
    model_cache: str = ""  # files derived from the model weights (the int8 export); empty: <data_dir>/models
    extra: dict[str, Any] = field(default_factory=dict)  # sections other issues own ([llm], [server] ...)

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "embeddings.sqlite"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def model_cache_dir(self) -> Path:
        return Path(self.model_cache).expanduser() if self.model_cache else self.data_dir / "models"

    @property
    def lock_path(self) -> Path:
        return self.state_dir / "writer.lock"

    @property
    def token_path(self) -> Path:
        """The local API's token (mode 0600)."""
        return self.state_dir / "api-token"

    @property
    def daemon_path(self) -> Path:
        """Where the running daemon listens (written by `ragd serve`)."""
        return self.state_dir / "daemon.json"


_ENV_FIELDS = {
    "RAGD_EMBEDDER": "embedder",
    "RAGD_VECTOR_STORE": "vector_store",
    "RAGD_CHROMA_URL": "chroma_url",
    "RAGD_MAX_FILE_MB": "max_file_mb",
    "RAGD_PARSE_TIMEOUT_S": "parse_timeout_s",
    "RAGD_PARSE_MEMORY_MB": "parse_memory_mb",
    "RAGD_PARSE_WORKERS": "parse_workers",
    "RAGD_CHUNK_TOKENS": "chunk_tokens",
    "RAGD_UNIT_TOKENS": "unit_tokens",
    "RAGD_MIN_FREE_MB": "min_free_mb",
    "RAGD_FOLLOW_SYMLINKS": "follow_symlinks",
    "RAGD_EMBED_IDLE_S": "embed_idle_s",
    "RAGD_MODEL_CACHE": "model_cache",
}
_SCALARS = {f.name: f.type for f in dataclasses.fields(Config)}
_LISTS = {"sources", "include", "exclude"}


def _dirs(env: Mapping[str, str]) -> tuple[Path, Path, Path]:
    home = env.get("RAGD_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return root / "config.toml", root / "data", root / "state"
    import platformdirs

    config = Path(env.get("RAGD_CONFIG") or Path(platformdirs.user_config_dir(APP)) / "config.toml")
    data = Path(env.get("RAGD_DATA_DIR") or platformdirs.user_data_dir(APP))
    state = Path(platformdirs.user_state_dir(APP))
    return config, data, state


def _coerce(name: str, value: Any) -> Any:
    kind = str(_SCALARS[name])
    try:
        if name in _LISTS:
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError
            return tuple(v.strip() for v in value)
        if "float" in kind:
            return float(value)
        if "int" in kind:
            if isinstance(value, bool):
                raise TypeError
            return int(value)
        if not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"config: {name} has an invalid value {value!r}") from None


def load(env: Mapping[str, str]) -> Config:
    """Build the configuration from the config file (if any) and the environment ``env``."""
    config_file, data_dir, state_dir = _dirs(env)
    if "RAGD_CONFIG" in env and env.get("RAGD_HOME"):
        config_file = Path(env["RAGD_CONFIG"])
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if config_file.exists():
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from None
        for key, value in raw.items():
            if key in _SCALARS and key not in ("config_file", "data_dir", "state_dir", "extra"):
                values[key] = _coerce(key, value)
            elif isinstance(value, dict):
                extra[key] = value
            else:
                raise ConfigError(f"config file {config_file}: unknown setting {key!r}")
        if "data_dir" in raw:
            data_dir = Path(str(raw["data_dir"])).expanduser()
    for var, name in _ENV_FIELDS.items():
        if env.get(var):
            values[name] = _coerce(name, env[var])
    cfg = Config(config_file=config_file, data_dir=data_dir, state_dir=state_dir, extra=extra, **values)
    _validate(cfg)
    return cfg


def _validate(cfg: Config) -> None:
    stores = plugins.names(plugins.VECTOR_STORES)
    if cfg.vector_store not in stores:
        raise ConfigError(f"config: vector_store must be one of {', '.join(stores)}, not {cfg.vector_store!r}")
    if cfg.max_file_mb <= 0 or cfg.parse_timeout_s <= 0 or cfg.parse_memory_mb < 256:
        raise ConfigError("config: max_file_mb and parse_timeout_s must be positive, parse_memory_mb >= 256")
    if not 1 <= cfg.parse_workers <= 64:
        raise ConfigError("config: parse_workers must be between 1 and 64")
    if cfg.min_free_mb < 0:
        raise ConfigError("config: min_free_mb must be 0 or more")
    if cfg.embed_idle_s < 0:
        raise ConfigError("config: embed_idle_s must be 0 (never) or more")
    if not 16 <= cfg.chunk_tokens <= 8192:
        raise ConfigError("config: chunk_tokens must be between 16 and 8192")
    if not 1 <= cfg.unit_tokens <= 8192:
        raise ConfigError("config: unit_tokens must be between 1 and 8192")
    if cfg.follow_symlinks not in FOLLOW_MODES:
        choices = ", ".join(repr(m) for m in FOLLOW_MODES)
        raise ConfigError(f"config: follow_symlinks must be one of {choices}, not {cfg.follow_symlinks!r}")
