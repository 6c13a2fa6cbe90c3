"""LlamaIndex's standard local RAG pipeline, the baseline for bench/index_throughput.py.

Runs with the interpreter of bench/.venv-llamaindex (``python -m bench.llamaindex_env`` builds it) and never
imports ragd. The pipeline is LlamaIndex's documented default: ``SimpleDirectoryReader(recursive=True)`` per
folder, ``SentenceSplitter()`` with its defaults, ``HuggingFaceEmbedding`` over the same all-MiniLM-L6-v2
directory ragd uses (``--model``), ``ChromaVectorStore`` over an embedded ``chromadb.PersistentClient``,
``VectorStoreIndex.from_documents``.

    bench/.venv-llamaindex/bin/python bench/llamaindex_pipeline.py index --model DIR --store DIR FOLDER...
    bench/.venv-llamaindex/bin/python bench/llamaindex_pipeline.py quality --model DIR --store DIR --data DATA

Two departures from ``reader.load_data()``, both only so that the benchmark can finish and count honestly:
files are loaded one by one, as ``load_data`` itself does, but with ``raise_on_error=True`` so that each
failure is recorded (``load_data`` would print it and skip the file; an ImportError would stop the run), and
each file gets ``--file-timeout`` seconds (SIGALRM; a parser stuck inside C code is not interrupted).
A third, for the same reason: the process's heap is capped (``--memory-limit-gb``, RLIMIT_DATA), so that a
decompression bomb ends in that file's MemoryError, recorded as its failure, instead of the kernel's OOM
killer ending the whole run (unbounded, LlamaIndex's reader took all 24 GB of this machine on docs_corpus).
Nothing else is changed. ``index`` prints seconds, files, documents, nodes, failures and peak RSS as one
JSON object; ``quality`` indexes squad_en + jsquad_ja + cranfield_en docs and prints hit@1, hit@5, MRR@5
(and ans@5) on the QA sets and nDCG@10 on cranfield_en, computed as bench/retrieval_quality.py does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import resource
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

QA_SETS = ("squad_en", "jsquad_ja")
HIT_CHARS = 1200  # as bench/retrieval_quality.py: a gold answer within a hit's first 1,200 characters
COLLECTION = "llamaindex"


class FileTimeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: FrameType | None) -> None:
        raise FileTimeout(f"no result after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def input_files(folders: list[Path], limit: int) -> list[Path]:
    from llama_index.core import SimpleDirectoryReader

    files: list[Path] = []
    for folder in folders:
        found = sorted(Path(f) for f in SimpleDirectoryReader(input_dir=str(folder), recursive=True).input_files)
        if limit and len(found) > limit:  # evenly spaced, as bench/index_throughput.py selects them
            found = found[:: math.ceil(len(found) / limit)][:limit]
        files += found
    return files


def load(files: list[Path], timeout_s: float) -> tuple[list[Any], list[dict[str, str]]]:
    """SimpleDirectoryReader's own per-file loop, with each failure recorded instead of printed."""
    from llama_index.core import SimpleDirectoryReader

    reader = SimpleDirectoryReader(input_files=[str(f) for f in files], raise_on_error=True)
    documents: list[Any] = []
    failures: list[dict[str, str]] = []
    for f in reader.input_files:
        try:
            with _deadline(timeout_s):
                documents += SimpleDirectoryReader.load_file(
                    f, file_metadata=reader.file_metadata, file_extractor=reader.file_extractor,
                    filename_as_id=reader.filename_as_id, encoding=reader.encoding, errors=reader.errors,
                    raise_on_error=True, fs=reader.fs)
        except ImportError as exc:  # load_data would stop the whole run here
            failures.append({"path": str(f), "error": f"ImportError (load_data would abort): {exc}"[:300]})
        except Exception as exc:  # every failure of a reader is a result here
            cause = exc.__cause__ or exc
            failures.append({"path": str(f), "error": f"{type(cause).__name__}: {cause}"[:300]})
    return reader._exclude_metadata(documents), failures


def embed_model(model: Path, batch_size: int | None) -> Any:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    kwargs: dict[str, Any] = {"model_name": str(model), "device": "cpu"}
    if batch_size:
        kwargs["embed_batch_size"] = batch_size
    embed = HuggingFaceEmbedding(**kwargs)
    embed.get_text_embedding("warm up")  # the first forward pass is slow; ragd's side is warmed the same way
    return embed


def build(files: list[Path], store: Path, embed: Any, timeout_s: float) -> tuple[Any, Any, dict[str, Any]]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    started, cpu = time.perf_counter(), cpu_seconds()
    documents, failures = load(files, timeout_s)
    loaded = time.perf_counter()
    client = chromadb.PersistentClient(path=str(store), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(COLLECTION)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed,
                                            transformations=[SentenceSplitter()])
    done = time.perf_counter()
    failed = {f["path"] for f in failures}
    with_text = {d.metadata.get("file_path") for d in documents if d.text.strip()}
    stats = {
        "seconds": done - started,
        "cpu_seconds": cpu_seconds() - cpu,
        "load_seconds": loaded - started,
        "split_embed_store_seconds": done - loaded,
        "files": len(files),
        "files_loaded": len(files) - len(failed),
        "files_with_text": len(with_text),
        "files_failed": len(failed),
        "documents": len(documents),
        "nodes": collection.count(),
        "failures": failures,
    }
    return index, collection, stats


# -- quality, as bench/retrieval_quality.py computes it -------------------------------------------------
def _rows(data: Path, ds: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (data / ds / "qa.jsonl").read_text(encoding="utf-8").splitlines()]


def _ranked(retriever: Any, question: str) -> list[tuple[str, str]]:
    """(resolved file path, node text) best first."""
    return [(str(Path(n.node.metadata.get("file_path", "")).resolve()), n.node.get_content())
            for n in retriever.retrieve(question)]


def qa_metrics(retriever: Any, data: Path, ds: str, limit: int) -> dict[str, float]:
    rows = _rows(data, ds)
    rows = rows[:limit] if limit else rows
    ans5 = hit1 = hit5 = rr = 0.0
    fhit1 = fhit5 = frr = 0.0
    started = time.perf_counter()
    for r in rows:
        gold_paths = {str((data / ds / g).resolve()) for g in r["gold_files"]}
        ranked = _ranked(retriever, r["question"])
        hits = ranked[:5]  # the top-5 nodes, as ragd's top-5 chunks in retrieval_quality.py
        gold = [i for i, (path, _) in enumerate(hits) if path in gold_paths]
        if gold:
            hit1 += gold[0] == 0
            hit5 += 1
            rr += 1 / (gold[0] + 1)
        if any(path in gold_paths and any(a in text[:HIT_CHARS] for a in r["answers"]) for path, text in hits):
            ans5 += 1
        files = list(dict.fromkeys(path for path, _ in ranked))[:5]  # distinct files, best first
        fgold = [i for i, path in enumerate(files) if path in gold_paths]
        if fgold:
            fhit1 += fgold[0] == 0
            fhit5 += 1
            frr += 1 / (fgold[0] + 1)
    n = len(rows)
    return {"questions": n, "ans@5": ans5 / n, "hit@1": hit1 / n, "hit@5": hit5 / n, "mrr@5": rr / n,
            "file_hit@1": fhit1 / n, "file_hit@5": fhit5 / n, "file_mrr@5": frr / n,
            "ms_per_query": 1000 * (time.perf_counter() - started) / n}


def ndcg10(retriever: Any, data: Path, limit: int) -> dict[str, float]:
    rows = _rows(data, "cranfield_en")
    rows = rows[:limit] if limit else rows
    total = 0.0
    for r in rows:
        rel = {str((data / "cranfield_en" / p).resolve()): float(g) for p, g in r["relevance"].items()}
        ranked = list(dict.fromkeys(path for path, _ in _ranked(retriever, r["question"])))
        dcg = sum(rel.get(p, 0.0) / math.log2(i + 2) for i, p in enumerate(ranked[:10]))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        total += dcg / idcg if idcg else 0.0
    return {"queries": len(rows), "ndcg@10": total / len(rows)}


def versions() -> dict[str, str | None]:
    import importlib.metadata as md

    out: dict[str, str | None] = {}
    for name in ("llama-index-core", "llama-index-readers-file", "llama-index-embeddings-huggingface",
                 "llama-index-vector-stores-chroma", "chromadb", "sentence-transformers", "transformers", "torch"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("index", "quality"))
    ap.add_argument("folders", nargs="*", type=Path, help="index: the folders to index")
    ap.add_argument("--model", type=Path, required=True, help="the all-MiniLM-L6-v2 directory ragd uses")
    ap.add_argument("--store", type=Path, required=True, help="a new, empty folder for the Chroma store")
    ap.add_argument("--data", type=Path, help="quality: the shared data folder")
    ap.add_argument("--limit-files", type=int, default=0, help="N files of each folder, evenly spaced (0 = all)")
    ap.add_argument("--files-from", type=Path, help="index: exactly these files (one path a line), not folders")
    ap.add_argument("--limit-questions", type=int, default=0, help="quality: first N questions per set (0 = all)")
    ap.add_argument("--embed-batch-size", type=int, default=0, help="0 = LlamaIndex's default")
    ap.add_argument("--file-timeout", type=float, default=60.0, help="seconds per file (ragd's parse timeout)")
    ap.add_argument("--top-k", type=int, default=30, help="quality: nodes retrieved per question")
    ap.add_argument("--memory-limit-gb", type=float, default=8.0, help="heap cap (RLIMIT_DATA); 0 = none")
    args = ap.parse_intermixed_args()
    if args.memory_limit_gb:
        cap = int(args.memory_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (cap, resource.getrlimit(resource.RLIMIT_DATA)[1]))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    warnings.simplefilter("ignore")
    if args.store.exists() and any(args.store.iterdir()):
        ap.error(f"--store {args.store} is not empty")
    if args.mode == "quality":
        if args.data is None:
            ap.error("quality needs --data")
        folders = [args.data / ds / "docs" for ds in (*QA_SETS, "cranfield_en")]
    else:
        folders = args.folders
        if not folders and args.files_from is None:
            ap.error("index needs folders or --files-from")
    started = time.perf_counter()
    if args.files_from is not None:
        files = [Path(line) for line in args.files_from.read_text(encoding="utf-8").splitlines() if line]
    else:
        files = input_files([f.resolve() for f in folders], args.limit_files)
    embed = embed_model(args.model, args.embed_batch_size)
    ready = time.perf_counter()
    index, _, stats = build(files, args.store, embed, args.file_timeout)
    report: dict[str, Any] = {
        "contender": "llamaindex", "mode": args.mode, "folders": [str(f) for f in folders],
        "pipeline": {"reader": "SimpleDirectoryReader(recursive=True), per file, raise_on_error=True",
                     "splitter": "SentenceSplitter()", "embed_model": f"HuggingFaceEmbedding({args.model.name})",
                     "embed_batch_size": embed.embed_batch_size, "max_length": embed.max_length,
                     "vector_store": "ChromaVectorStore(chromadb.PersistentClient)",
                     "file_timeout_s": args.file_timeout, "memory_limit_gb": args.memory_limit_gb},
        "versions": versions(),
        "setup_seconds": ready - started,  # imports, scanning the folders, loading the model (not timed below)
        "index": stats,
    }
    if args.mode == "quality":
        retriever = index.as_retriever(similarity_top_k=args.top_k)
        results: dict[str, Any] = {ds: qa_metrics(retriever, args.data, ds, args.limit_questions) for ds in QA_SETS}
        results["cranfield_en"] = ndcg10(retriever, args.data, args.limit_questions)
        report["top_k"] = args.top_k
        report["results"] = results
    report["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
