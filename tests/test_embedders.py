"""The built-in embedders, with their real models (shipped inside PyPI packages)."""

from __future__ import annotations

import numpy as np
import pytest

from ragd.index import embed
from ragd.index.errors import ConfigError

pytestmark = pytest.mark.slow

DOCS = ["The cat sleeps on the warm windowsill.", "Interest rates were raised by the central bank.",
        "猫は暖かい窓辺で眠っている。", "中央銀行は金利を引き上げた。"]


@pytest.fixture(scope="module", params=["use-multilingual", "minilm", "e5-small", "use+minilm"])
def embedder(request):
    return embed.create(request.param)


def test_shapes_and_paraphrase_ranking(embedder):
    docs = embedder.embed_batch(DOCS, "passage")
    assert docs.shape == (4, embedder.dim) and docs.dtype == np.float32
    q = embedder.embed_batch(["Where is the cat napping?"], "query")[0]
    scores = docs @ q
    assert scores[0] > scores[1]
    assert embed.embed_one(embedder, "Where is the cat napping?").shape == (embedder.dim,)
    assert embedder.count_tokens("The cat sleeps.") >= 3
    # chunks are sized by this count: Japanese, without spaces, counts its subwords, not its spaces
    assert embedder.count_tokens(DOCS[2] * 8) >= 40
    assert embedder.embed_batch([], "passage").shape[0] == 0


def test_single_models_are_normalised(embedder):
    if embedder.model_id.startswith("use-multilingual+"):
        pytest.skip("the dual embedder is not normalised by design")
    norms = np.linalg.norm(embedder.embed_batch(DOCS), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)


def test_multilingual_models_match_across_languages():
    for name in ("use-multilingual", "e5-small"):
        e = embed.create(name)
        docs = e.embed_batch(DOCS[2:], "passage")
        q = e.embed_batch(["猫はどこで寝ている？"], "query")[0]
        assert (docs @ q)[0] > (docs @ q)[1], name


def test_dual_embedder_leaves_minilm_half_empty_for_japanese():
    e = embed.create("use+minilm")
    v = e.embed_batch(DOCS)
    assert np.all(v[2:, 512:] == 0) and np.all(np.abs(v[:2, 512:]).sum(axis=1) > 0)
    en = e.embed_batch(["Who raised interest rates?"], "query")[0]
    assert int(np.argmax(v[:2] @ en)) == 1


def test_unknown_model_names_the_choices():
    with pytest.raises(ConfigError, match="use-multilingual"):
        embed.create("gpt-embeddings")
