import pytest

from ragd.daemon.config import load
from ragd.index.errors import ConfigError


def test_ragd_home_puts_everything_under_one_folder(tmp_path):
    cfg = load({"RAGD_HOME": str(tmp_path)})
    assert cfg.config_file == tmp_path / "config.toml"
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.catalog_path.parent == tmp_path / "data"
    assert cfg.lock_path.is_relative_to(tmp_path)


def test_file_then_environment_override(tmp_path):
    (tmp_path / "config.toml").write_text(
        'embedder = "minilm"\nmax_file_mb = 2\nexclude = ["*.log"]\n[llm]\nmodel = "x.gguf"\n')
    cfg = load({"RAGD_HOME": str(tmp_path)})
    assert (cfg.embedder, cfg.max_file_mb, cfg.exclude) == ("minilm", 2.0, ("*.log",))
    assert cfg.llm.model == "x.gguf"
    cfg = load({"RAGD_HOME": str(tmp_path), "RAGD_EMBEDDER": "e5-small", "RAGD_MAX_FILE_MB": "3.5"})
    assert (cfg.embedder, cfg.max_file_mb) == ("e5-small", 3.5)


def test_follow_symlinks_defaults_to_inside_and_is_set_by_file_or_environment(tmp_path):
    assert load({"RAGD_HOME": str(tmp_path)}).follow_symlinks == "inside"
    (tmp_path / "config.toml").write_text('follow_symlinks = "never"\n')
    assert load({"RAGD_HOME": str(tmp_path)}).follow_symlinks == "never"
    assert load({"RAGD_HOME": str(tmp_path), "RAGD_FOLLOW_SYMLINKS": "always"}).follow_symlinks == "always"
    for bad in ({"RAGD_FOLLOW_SYMLINKS": "sometimes"}, {"RAGD_FOLLOW_SYMLINKS": "Inside"}):
        with pytest.raises(ConfigError, match="follow_symlinks: Input should be 'inside', 'never' or 'always'"):
            load({"RAGD_HOME": str(tmp_path), **bad})
    (tmp_path / "config.toml").write_text("follow_symlinks = true\n")
    with pytest.raises(ConfigError, match="follow_symlinks"):
        load({"RAGD_HOME": str(tmp_path)})
