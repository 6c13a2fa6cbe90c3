"""Configuration: a TOML file in the platform's config dir, overridden by ``RAGD_*`` variables, loaded once into
one typed object (``Config``: the settings of ``ragd.daemon.settings`` and the folders they live in).

``RAGD_HOME=DIR`` puts config, data and state under one folder (tests and benchmarks use it).
The environment is passed in, never read from ``os.environ`` deep inside the code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from ragd.daemon.settings import Settings, read
from ragd.index.errors import ConfigError

APP = "ragd"


class Config(Settings):
    config_file: Path
    data_dir: Path  # type: ignore[assignment]  # the file may name it; resolved here
    state_dir: Path
    origins: dict[str, str] = Field(default_factory=dict)  # set values and where each came from (ragd config)

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
    def ocr_cache_dir(self) -> Path:
        """OCR results by image hash, so that a re-parse (a re-index, a citation check) never OCRs again."""
        return self.data_dir / "ocr"

    @property
    def history_path(self) -> Path:
        return self.data_dir / "history.sqlite"

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


def _dirs(env: Mapping[str, str]) -> tuple[Path, Path, Path]:
    home = env.get("RAGD_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        config = Path(env["RAGD_CONFIG"]) if env.get("RAGD_CONFIG") else root / "config.toml"
        return config, root / "data", root / "state"
    import platformdirs

    config = Path(env.get("RAGD_CONFIG") or Path(platformdirs.user_config_dir(APP)) / "config.toml")
    data = Path(env.get("RAGD_DATA_DIR") or platformdirs.user_data_dir(APP))
    state = Path(platformdirs.user_state_dir(APP))
    return config, data, state


def load(env: Mapping[str, str]) -> Config:
    """Build the configuration from the config file (if any) and the environment ``env``."""
    config_file, data_dir, state_dir = _dirs(env)
    raw = {}
    if config_file.exists():
        try:
            raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from None
    settings, origins = read(raw, env, f"config file {config_file}")
    if settings.data_dir:
        data_dir = Path(settings.data_dir).expanduser()
    else:
        given = next((var for var in ("RAGD_HOME", "RAGD_DATA_DIR") if env.get(var)), None)
        if given:
            origins["data_dir"] = given
    fields = {name: getattr(settings, name) for name in Settings.model_fields if name != "data_dir"}
    return Config.model_construct(config_file=config_file, data_dir=data_dir, state_dir=state_dir, origins=origins,
                                  **fields)
