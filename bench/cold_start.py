"""Cold starts a user meets: the first save after ``ragd serve`` starts, and the first search after the
embedding worker went idle and exited.

Each run starts a real ``ragd serve`` (fresh private RAGD_HOME, the default embedder, a prepared model cache
so that the one-time int8 export is not counted; it is timed apart) over an empty folder, as a new user
would, and at once saves a note there; timed from the moment the daemon answers until a search finds the
note (polled every 20 ms). Then, with the daemon settled:
  warm    — hybrid searches one after another (the worker is running);
  cold    — a hybrid search right after the worker exited (``embed_idle_s`` is set to 2 s for this run;
            the worker's exit is seen as its process leaving the daemon's children);
the warm median is the baseline in the same run.

    python -m bench.cold_start [--runs 5] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.daemon_latency import load_avg, machine, shut_down, summary
from tests.daemon_proc import Daemon, wait_until

REPO = Path(__file__).resolve().parents[1]
NOTE = "Garden log. The zqtomatoes were planted on the ninth of April, beside the fence.\n"
QUESTIONS = ["When were the tomatoes planted?", "Which fence is beside the garden?", "What was planted in April?",
             "トマトはいつ植えた？", "garden log ninth April"]


def _worker_pids(daemon: Daemon) -> set[int]:
    assert daemon.proc is not None
    kids = psutil.Process(daemon.proc.pid).children(recursive=True)
    out = set()
    for kid in kids:
        try:
            if "ragd.index.embed.worker" in " ".join(kid.cmdline()):
                out.add(kid.pid)
        except psutil.Error:
            continue
    return out


def _timed_search(daemon: Daemon, query: str) -> float:
    started = time.perf_counter()
    r = daemon.api().post("/v1/search", json={"query": query, "k": 5, "mode": "hybrid"})
    r.raise_for_status()
    return time.perf_counter() - started


def one_run(tmp: Path, model_cache: str) -> dict[str, Any]:
    folder = tmp / "notes"
    folder.mkdir()
    daemon = Daemon(tmp / "home", [folder], RAGD_EMBED_IDLE_S="2", RAGD_MODEL_CACHE=model_cache,
                    RAGD_DEBOUNCE_S="0.3")
    report: dict[str, Any] = {}
    try:
        launched = time.perf_counter()
        daemon.start()
        ready = time.perf_counter()
        (folder / "garden.txt").write_text(NOTE, encoding="utf-8")
        saved = time.perf_counter()
        wait_until(lambda: any(h["path"].endswith("garden.txt") for h in daemon.search("zqtomatoes", k=3)), 120,
                   "the first note to be searchable", every=0.02)
        report["start_s"] = round(ready - launched, 3)
        report["first_save_searchable_s"] = round(time.perf_counter() - saved, 3)
        daemon.settled()
        warm = [_timed_search(daemon, q) for q in QUESTIONS * 4]
        cold = []
        for q in QUESTIONS[:3]:
            wait_until(lambda: not _worker_pids(daemon), 60, "the idle worker to exit", every=0.1)
            cold.append(_timed_search(daemon, q))
        report["warm_search_s"] = summary(warm)
        report["cold_search_s"] = summary(cold)
    finally:
        shut_down(daemon, report, tmp, keep=False, kept="")
    return report


def export_once(model_cache: Path) -> dict[str, Any]:
    """Time the one-time int8 export into ``model_cache`` (skipped when it is there already)."""
    from ragd.index.embed.minilm import ensure_onnx_model, onnx_model_path

    if onnx_model_path(model_cache).exists():
        return {"export_s": None, "note": "already in the model cache"}
    started = time.perf_counter()
    path = ensure_onnx_model(model_cache)
    check = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
    return {"export_s": round(time.perf_counter() - started, 2), "check": check}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model-cache", type=Path, default=REPO / "build" / "model-cache")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = ap.parse_args()
    export = export_once(args.model_cache)
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ragd-cold-") as tmp:
            runs.append(one_run(Path(tmp), str(args.model_cache)))
        r = runs[-1]
        print(f"run {i + 1}: first save searchable {r['first_save_searchable_s']} s, cold search "
              f"{r['cold_search_s']['p50']} s, warm {r['warm_search_s']['p50']} s", flush=True)
    result = {
        "benchmark": "cold_start", "machine": machine(), "load_avg": load_avg(), "export": export, "runs": runs,
        "first_save_searchable_s_median": statistics.median(r["first_save_searchable_s"] for r in runs),
        "cold_search_s_median": statistics.median(r["cold_search_s"]["p50"] for r in runs),
        "warm_search_s_median": statistics.median(r["warm_search_s"]["p50"] for r in runs),
    }
    result["cold_over_warm"] = round(result["cold_search_s_median"] / result["warm_search_s_median"], 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cold-start.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "machine")}, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
