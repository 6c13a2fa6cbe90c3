"""One settings object: every section typed and checked in one place, one error style, and ``ragd config``
saying what is in effect and where it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragd.daemon import config as config_mod
from ragd.daemon.settings import history_settings, llm_settings, read
from ragd.index.answer.history import HistorySettings
from ragd.index.errors import ConfigError
from tests.helpers import ragd


def _load(tmp_path: Path, toml: str = "", **env: str) -> config_mod.Config:
    (tmp_path / "config.toml").write_text(toml, encoding="utf-8")
    return config_mod.load({"RAGD_HOME": str(tmp_path), **env})


def test_each_section_is_read_from_the_file_and_overridden_by_its_variable(tmp_path: Path) -> None:
    cfg = _load(tmp_path, '[llm]\nmodel = "x.gguf"\ncontext_tokens = 4096\n[server]\nport = 9000\ndebounce_s = 0.1\n'
                          '[history]\nenabled = false\nretention_days = 7\n[answer]\nunsupported = "drop"\n',
                RAGD_HOST="::1", RAGD_LLM_CONTEXT_TOKENS="2048")
    assert (cfg.llm.model, cfg.llm.context_tokens) == ("x.gguf", 2048)
    assert (cfg.server.host, cfg.server.port, cfg.server.debounce_s, cfg.server.loopback) == ("::1", 9000, 0.1, True)
    assert history_settings(cfg) == HistorySettings(enabled=False, retention_days=7.0)
    assert cfg.answer.unsupported == "drop"
    assert cfg.origins["llm.model"].startswith("config file") and cfg.origins["llm.context_tokens"] == \
        "RAGD_LLM_CONTEXT_TOKENS" and cfg.origins["server.host"] == "RAGD_HOST"
    for off in ("off", "0", "false", "OFF"):
        assert read({}, {"RAGD_HISTORY": off}, "f")[0].history.enabled is False
    assert read({"history": {"enabled": False}}, {"RAGD_HISTORY": "on"}, "f")[0].history.enabled is True
    assert read({}, {"RAGD_ANSWER_UNSUPPORTED": "drop"}, "f")[0].answer.unsupported == "drop"


def test_models_and_the_servers_key_reach_the_llm_settings(tmp_path: Path) -> None:
    sha = "ab" * 32
    cfg = _load(tmp_path, f'[llm]\nmodel = "big"\napi_key_env = "MY_KEY"\n[models.big]\npath = "~/m/big.gguf"\n'
                          f'sha256 = "{sha.upper()}"\n')
    settings = llm_settings(cfg, {"MY_KEY": "s3cret"})
    assert settings.selected().path == Path("~/m/big.gguf").expanduser() and settings.selected().sha256 == sha
    assert settings.api_key == "s3cret" and llm_settings(cfg, {}).api_key is None


@pytest.mark.parametrize("toml, env, message", [
    ("embedder = [", {}, "not valid TOML"),
    ("colour = 'blue'", {}, "config: unknown setting colour"),
    ("max_file_mb = 'big'", {}, "config: max_file_mb: Input should be a valid number"),
    ("vector_store = 'redis'", {}, "config: vector_store must be one of chroma, chroma-http, not 'redis'"),
    ("parse_workers = 0", {}, "config: parse_workers: Input should be greater than or equal to 1, not 0"),
    ("follow_symlinks = true", {}, "config: follow_symlinks: Input should be 'inside', 'never' or 'always'"),
    ("", {"RAGD_FOLLOW_SYMLINKS": "sometimes"}, r"follow_symlinks: .* \(from RAGD_FOLLOW_SYMLINKS\)"),
    ("[history]\nenable = true", {}, r"config: unknown setting \[history\] enable"),
    ("[history]\nenabled = 'yes'", {}, r"\[history\] enabled: Input should be a valid boolean"),
    ("[history]\nretention_days = '30'", {}, r"\[history\] retention_days: Input should be a valid number"),
    ("[history]\nretention_days = -1", {}, r"\[history\] retention_days: Input should be greater than"),
    ("[history]\nretention_days = true", {}, r"\[history\] retention_days: Input should be a valid number"),
    ("history = 'off'", {}, r"config: \[history\] must be a table"),
    ("", {"RAGD_HISTORY": "maybe"}, "RAGD_HISTORY must be on or off"),
    ("[answer]\nunsupported = 'hide'", {}, r"\[answer\] unsupported: Input should be 'mark' or 'drop'"),
    ("[answer]\nunsuported = 'drop'", {}, r"unknown setting \[answer\] unsuported"),
    ("[server]\nprot = 1", {}, r"unknown setting \[server\] prot"),
    ("", {"RAGD_PORT": "70000"}, r"\[server\] port: Input should be less than or equal to 65535, not '70000' "
                                 r"\(from RAGD_PORT\)"),
    ("[server]\nport = 'eighty'", {}, r"\[server\] port: Input should be a valid integer"),
    ("[llm]\nbackend = 'ollama'", {}, r"\[llm\]: backend must be one of llama-cpp, openai"),
    ("[llm]\nbackend = 'openai'", {}, "needs base_url"),
    ("[llm]\ncontext_tokens = 1024\nmax_answer_tokens = 900", {}, "at most half of context_tokens"),
    ("[models.big]\nsha256 = 'abc'\npath = 'x.gguf'", {}, r"\[models.big\] sha256: String should match"),
])
def test_a_bad_setting_is_one_clear_line(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, toml, **env)


def test_ragd_config_shows_each_setting_and_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('max_file_mb = 2\n[llm]\nmodel = "x.gguf"\n', encoding="utf-8")
    out = ragd(tmp_path, "config", RAGD_EMBEDDER="minilm").stdout
    lines = {line.split(" = ")[0]: line for line in out.splitlines() if " = " in line}
    assert lines["embedder"].endswith("# RAGD_EMBEDDER") and '"minilm"' in lines["embedder"]
    assert "# config file" in lines["max_file_mb"] and lines["chunk_tokens"].endswith("# default")
    assert '"x.gguf"' in lines["model"] and "[llm]" in out and "[server]" in out
    data = json.loads(ragd(tmp_path, "config", "--json").stdout)
    assert data["settings"]["llm"]["model"] == "x.gguf" and data["settings"]["max_file_mb"] == 2.0
    assert data["origins"]["max_file_mb"].startswith("config file")
