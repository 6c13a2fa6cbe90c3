"""USE-multilingual and MiniLM in one vector: the best of both on a mixed English/Japanese index.

MiniLM is the stronger English retriever, USE the one that understands Japanese (see README).
Each text is embedded as [USE vector, MiniLM vector]: the MiniLM half is left at zero for text
with Japanese/CJK characters (MiniLM cannot read it, and skipping it saves time). Stored with an
inner-product index, the similarity of a query and a passage is the sum of the two models'
cosines where both apply, and USE's alone where only it does. A Japanese query has a zero
MiniLM half, so Japanese retrieval is pure USE.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ragd.index.chunk import CJK_CHAR
from ragd.index.embed import Embedder, Kind, Vectors
from ragd.index.embed.minilm import MiniLM, MiniLMOnnx
from ragd.index.embed.use import UseMultilingual


class UseMiniLM(Embedder):
    """With MiniLM's int8 ONNX engine by default; ``minilm`` replaces it (the fp32 torch model, for one)."""

    dim = UseMultilingual.dim + MiniLM.dim
    max_tokens = MiniLM.max_tokens
    count_tokens_concurrent = UseMultilingual.count_tokens_concurrent  # tokens are counted by USE's tokenizer

    def __init__(self, minilm: MiniLM | MiniLMOnnx | None = None) -> None:
        self.use = UseMultilingual()
        self.minilm = minilm or MiniLMOnnx()
        # the fp32 pair keeps the id its indexes were built with
        self.model_id = ("use-multilingual+all-MiniLM-L6-v2/v1" if isinstance(self.minilm, MiniLM)
                         else "use-multilingual+all-MiniLM-L6-v2@onnx-int8/v1")

    def set_threads(self, threads: int) -> None:
        self.use.set_threads(threads)
        self.minilm.set_threads(threads)

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        items = list(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if not items:
            return out
        out[:, : self.use.dim] = self.use.embed_batch(items, kind)
        latin = [i for i, t in enumerate(items) if not CJK_CHAR.search(t)]
        if latin:
            out[latin, self.use.dim :] = self.minilm.embed_batch([items[i] for i in latin], kind)
        return out

    def count_tokens(self, text: str) -> int:
        return self.use.count_tokens(text)
