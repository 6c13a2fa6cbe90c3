"""How the daemon's costs grow with the tree: index time, peak memory, re-scan time, latency per size.

For each size, builds a tree of that many small notes from the real texts (bench/note_tree's
builder: SQuAD paragraphs and Cranfield abstracts, 1–3 short paragraphs per file, ~100-file folders
with sub-folders), starts a real ``ragd serve`` over it (private RAGD_HOME, the default embedder) and
records:
  initial index      — the start-up scan of the whole tree: seconds, files/s, chunks/s
  peak RSS           — of the daemon and its parser workers while it indexes (psutil every 0.2 s from a
                       thread, children summed), with the kernel's high-water mark of the daemon process
  re-scan            — ``POST /v1/reindex {"paths": []}`` of the unchanged tree, until written (median)
  save→searchable    — a save (atomic, plain write or appended edit), polled with lexical searches until
                       the file is a hit; delete→gone likewise (bench/daemon_latency's measurements)
Each size gets a fresh tree, RAGD_HOME and daemon; the JSON is rewritten after every size.

Time: initial indexing runs at about 8 files/s on a 2-core laptop-class CPU with the default embedder,
so 1,000 files take ~3 minutes all in, 10,000 files ~25 minutes and 50,000 files ~2 hours (the default
list runs all three: ~2.5 hours). ``--sizes 300,1000`` is a quick run.

    python -m bench.scale [--sizes 1000,10000,50000] [--saves 20] [--deletes 10] [--scans 3] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.daemon_latency import (
    Probe,
    delete_samples,
    idle,
    latencies,
    load_avg,
    machine,
    reconcile_scans,
    save_samples,
    shut_down,
    summary,
    wait_initial_index,
)
from bench.memory import RssSampler, high_water_mb
from bench.note_tree import build_tree, load_passages
from tests.daemon_proc import Daemon

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = "1000,10000,50000"


def measure(size: int, args: argparse.Namespace, passages: list[list[str]]) -> dict[str, Any]:
    """One tree of ``size`` files under a fresh temp dir, one daemon over it; everything removed after."""
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix=f"ragd-scale-{size}-")).resolve()
    tree, home = tmp / "tree", tmp / "home"
    started = time.perf_counter()
    notes = build_tree(tree, size, passages, args.seed)
    folders = sorted({str(p.parent) for p in notes})
    tree_mb = sum(p.stat().st_size for p in notes) / 1e6
    print(f"\n== {size:,} files in {len(folders)} folders, {tree_mb:.1f} MB "
          f"(built in {time.perf_counter() - started:.1f} s) under {tmp}", flush=True)

    daemon = Daemon(home, [tree], RAGD_HISTORY="off")
    daemon.env["RAGD_DEBOUNCE_S"] = str(args.debounce)
    sampler = RssSampler(lambda: daemon.proc.pid if daemon.proc is not None else None, args.every)
    row: dict[str, Any] = {"files": len(notes), "folders": len(folders), "tree_mb": round(tree_mb, 2),
                           "measured_at": time.strftime("%Y-%m-%d %H:%M %Z"), "load_avg_1m": {"start": load_avg()}}
    try:
        sampler.start()
        t_spawn = time.perf_counter()
        daemon.start(timeout=600)
        t_ready = time.perf_counter()
        first_scan = wait_initial_index(daemon, tree, t_ready, args.index_timeout)
        t_settled = time.perf_counter()
        assert daemon.proc is not None
        status = daemon.status()
        scan = first_scan or {}  # None: the start-up scan's stats were replaced unseen; its wall time stands in
        index_s = float(scan.get("seconds") or (t_settled - t_ready))
        mem = sampler.window(t_spawn, t_settled)
        row.update({
            "chunks": status["chunks"], "indexed": status["indexed"], "failed": status["failed"],
            "index_s": round(index_s, 2), "spawn_to_settled_s": round(t_settled - t_spawn, 2),
            "files_per_s": round(len(notes) / index_s, 2) if index_s else None,
            "chunks_per_s": round(status["chunks"] / index_s, 2) if index_s else None,
            "vectors_embedded": scan.get("vectors_embedded"), "chunks_embedded": scan.get("chunks_embedded"),
            "peak_rss_mb": mem.get("peak_mb"), "peak_rss_daemon_mb": mem.get("peak_main_mb"),
            "peak_rss_workers_mb": mem.get("peak_children_mb"), "rss_after_index_mb": mem.get("last_mb"),
            "daemon_vmhwm_mb": high_water_mb(daemon.proc.pid), "rss_samples": mem.get("samples"),
            "model": status.get("model"), "scan": scan,
        })
        row["load_avg_1m"]["initial_index"] = load_avg()
        print(f"initial index: {status['indexed']:,} files, {status['chunks']:,} chunks in {index_s:.1f} s "
              f"({row['files_per_s']} files/s, {row['chunks_per_s']} chunks/s); peak RSS {mem.get('peak_mb')} MB "
              f"(daemon {mem.get('peak_main_mb')} MB, workers {mem.get('peak_children_mb')} MB)", flush=True)

        rc = reconcile_scans(daemon, args.scans)
        row["rescan_s"] = rc["wall_s_median"]
        row["rescan_daemon_s"] = rc["daemon_s_median"]
        row["reconcile"] = rc

        probe = Probe(daemon, args.poll)
        samples, created = save_samples(daemon, probe, rng, tree, notes, folders, passages, args.saves)
        deletes = delete_samples(daemon, probe, rng, tree, created, args.deletes)
        writer = [float(r["writer_s"]) for r in samples if r["writer_s"] is not None]
        row["save_to_searchable_s"] = {**summary(latencies(samples)),
                                       "timeouts": sum(r["latency_s"] is None for r in samples),
                                       "with_full_scan_during": sum(bool(r["full_scan_during"]) for r in samples)}
        row["delete_to_gone_s"] = {**summary(latencies(deletes)),
                                   "timeouts": sum(r["latency_s"] is None for r in deletes)}
        row["writer_s_per_change"] = summary(writer)
        idle(daemon)
        row["peak_rss_whole_run_mb"] = sampler.window(t_spawn).get("peak_mb")
        row["load_avg_1m"]["end"] = load_avg()
        row["samples"] = samples
        row["deletes"] = deletes
    except BaseException:
        print(f"--- daemon log tail ---\n{daemon.tail()}", file=sys.stderr)
        raise
    finally:
        sampler.stop()
        shut_down(daemon, row, tmp, args.keep, "tree, RAGD_HOME, daemon.log")
    return row


def growth(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How each cost grows from the smallest size to the largest, against how the file count grows."""
    if len(rows) < 2:
        return {}
    a, b = rows[0], rows[-1]

    def factor(key: str) -> float | None:
        x, y = a.get(key), b.get(key)
        return round(float(y) / float(x), 2) if x and y is not None else None

    return {"from_files": a["files"], "to_files": b["files"], "files": factor("files"), "index_s": factor("index_s"),
            "rescan_s": factor("rescan_s"), "peak_rss_mb": factor("peak_rss_mb"),
            "save_p50": round(b["save_to_searchable_s"]["p50"] / a["save_to_searchable_s"]["p50"], 2)
            if a["save_to_searchable_s"].get("p50") and b["save_to_searchable_s"].get("p50") else None}


def earlier_sizes(out: Path, sizes: list[int]) -> list[dict[str, Any]]:
    """The rows of an earlier scale.json for sizes this run does not measure again."""
    try:
        rows = json.loads(out.read_text(encoding="utf-8")).get("sizes", [])
    except (OSError, ValueError):
        return []
    return [r for r in rows if r.get("files") not in sizes]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated file counts")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--saves", type=int, default=20, help="save→searchable samples per size")
    ap.add_argument("--deletes", type=int, default=10, help="delete→gone samples per size")
    ap.add_argument("--scans", type=int, default=3, help="re-scans of the unchanged tree per size (median)")
    ap.add_argument("--debounce", type=float, default=0.3)
    ap.add_argument("--poll", type=float, default=0.015, help="seconds between search polls")
    ap.add_argument("--every", type=float, default=0.2, help="RSS sampling interval (s)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--index-timeout", type=float, default=6 * 3600)
    ap.add_argument("--keep", action="store_true", help="keep each size's temp dir (tree, RAGD_HOME, daemon.log)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--no-merge", dest="merge", action="store_false",
                    help="drop the sizes an earlier run wrote to scale.json (kept by default, each with its own "
                         "machine load recorded)")
    args = ap.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    passages = load_passages(args.data)
    out = args.out / "scale.json"
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "machine": machine(),
        "params": {"sizes": sizes, "saves": args.saves, "deletes": args.deletes, "scans": args.scans,
                   "debounce_s": args.debounce, "poll_s": args.poll, "rss_every_s": args.every, "seed": args.seed,
                   "passages": len(passages)},
        "sizes": earlier_sizes(out, sizes) if args.merge else [],
        "notes": [
            "peak RSS: the daemon and its parser workers summed (psutil every "
            f"{args.every:g} s while the start-up scan ran, model loading included); shared library pages "
            "count once per process.",
            "re-scan: a full reconcile scan of the unchanged tree (stat every file, nothing re-read), "
            f"median of {args.scans}, until the daemon reports it written.",
            f"save→searchable and delete→gone: {args.saves} saves and {args.deletes} deletes per size, "
            f"debounce {args.debounce:g} s (the designed floor), polled every {args.poll * 1000:.0f} ms.",
        ],
    }
    for size in sizes:
        report["sizes"] = sorted([*report["sizes"], measure(size, args, passages)], key=lambda s: s["files"])
        report["growth"] = growth(report["sizes"])
        out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print_table(report)
    print(f"\nwritten to {out}")


def print_table(r: dict[str, Any]) -> None:
    def ms(x: Any) -> str:
        return "–" if x is None else f"{float(x) * 1000:.0f} ms"

    m = r["machine"]
    print(f"\n{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; model {r['sizes'][0].get('model')}\n")
    print("| files | chunks | index | files/s | chunks/s | peak RSS | re-scan | save→searchable p50 | p95 "
          "| delete→gone p50 | p95 | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in r["sizes"]:
        sv, dl = s["save_to_searchable_s"], s["delete_to_gone_s"]
        print(f"| {s['files']:,} | {s['chunks']:,} | {s['index_s']:.1f} s | {s['files_per_s']} | {s['chunks_per_s']} "
              f"| {s['peak_rss_mb']} MB | {s['rescan_s']} s | {ms(sv.get('p50'))} | {ms(sv.get('p95'))} "
              f"| {ms(dl.get('p50'))} | {ms(dl.get('p95'))} | {s['load_avg_1m'].get('end')} |")
    g = r.get("growth")
    if g:
        print(f"\n{g['from_files']:,} → {g['to_files']:,} files (×{g['files']}): index time ×{g['index_s']}, "
              f"re-scan ×{g['rescan_s']}, peak RSS ×{g['peak_rss_mb']}, save→searchable p50 ×{g['save_p50']}")
    medians = [s["save_to_searchable_s"].get("p50") for s in r["sizes"] if s["save_to_searchable_s"].get("p50")]
    if medians:
        print(f"median of the per-size save→searchable p50s: {ms(statistics.median(medians))}")


if __name__ == "__main__":
    main()
