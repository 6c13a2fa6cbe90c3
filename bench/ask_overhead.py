"""`ragd ask` against raw llama-cpp-python on the same prompt and the same loaded model.

For each question, ragd answers it (retrieval, evidence check, prompt within the context budget,
streaming, citations); then raw llama-cpp-python gets exactly the messages ragd built and streams
its reply. The model's state is reset before every call, so neither side reuses the other's
prompt cache. Runs alternate which side goes first. Reported, as medians over all runs:
  first token  — ragd: from the question to the first token (retrieval included); raw: from the call
  tokens/s     — generated tokens over the generation time, both sides
and ratios ragd / raw from the same run.

    python -m bench.ask_overhead [--questions 12] [--repeats 3] [--docs 4] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ragd.daemon.config import load
from ragd.daemon.container import Container
from ragd.index.answer import grounding
from ragd.index.llm.local import LlamaCppLLM

REPO = Path(__file__).resolve().parents[1]


def raw_stream(llm: LlamaCppLLM, messages: list[dict[str, str]], max_tokens: int) -> tuple[float, float, str]:
    """(seconds to first token, tokens per second, text) for llama-cpp-python's own streaming call."""
    llama = llm._model()
    llama.reset()
    started = time.perf_counter()
    first = 0.0
    pieces: list[str] = []
    for chunk in llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0,
                                              stream=True):
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            if not pieces:
                first = time.perf_counter() - started
            pieces.append(piece)
    gen = time.perf_counter() - started - first
    text = "".join(pieces)
    return first, llm.count_tokens(text) / gen if gen > 0 else 0.0, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--docs", type=int, default=4)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ragd-ttft-"))
    try:
        docs = sorted((args.data / "squad_en" / "docs").iterdir())[: args.docs]
        folder = tmp / "docs"
        folder.mkdir()
        for d in docs:
            (folder / d.name).symlink_to(d.resolve())
        c = Container(load({"RAGD_HOME": str(tmp / "home")}), env=dict(os.environ))
        c.catalog.add_source(str(folder))
        c.indexer.run([c.connector(str(folder))])
        names = {d.name for d in docs}
        rows = [json.loads(line) for line in (args.data / "squad_en" / "qa.jsonl").read_text().splitlines()]
        rows = [r for r in rows if Path(r["gold_files"][0]).name in names]
        questions = [r["question"] for r in random.Random(3).sample(rows, args.questions)]
        llm = c.llm
        assert isinstance(llm, LlamaCppLLM), "this benchmark compares against in-process llama-cpp-python"
        asker = c.asker
        max_tokens = asker.settings.answer_tokens
        c.asker.ask(questions[0])  # warm up: model loaded, embedders loaded
        ragd_first: list[float] = []
        raw_first: list[float] = []
        ragd_tps: list[float] = []
        raw_tps: list[float] = []
        same_text = 0
        pair_ratios: list[float] = []
        runs = 0
        for rep in range(args.repeats):
            for i, q in enumerate(questions):
                hits, evidence = asker.retrieve(q)
                if not grounding.supports(evidence, asker.settings.grounding):
                    continue  # ragd would not ask the model: nothing to compare
                messages, _ = asker.prompt(q, hits, evidence, llm)
                order = ("ragd", "raw") if (rep + i) % 2 == 0 else ("raw", "ragd")
                for side in order:
                    if side == "raw":
                        first, tps, raw_text = raw_stream(llm, [m.to_json() for m in messages], max_tokens)
                        raw_first.append(first)
                        raw_tps.append(tps)
                    else:
                        llm._model().reset()
                        streamed: list[str] = []
                        answer = asker.ask(q, on_token=streamed.append)
                        gen = answer.timings["generate"]
                        ragd_first.append(answer.timings["first_token"])
                        ragd_tps.append(llm.count_tokens("".join(streamed)) / gen if gen > 0 else 0.0)
                        ragd_text = "".join(streamed)
                runs += 1
                same_text += ragd_text.strip() == raw_text.strip()
                pair_ratios.append(ragd_first[-1] / raw_first[-1])
        med = statistics.median
        report: dict[str, Any] = {
            "model": llm.model_id, "threads": llm.threads, "n_ctx": llm.context_length, "questions": len(questions),
            "repeats": args.repeats, "pairs": runs, "identical_answers": same_text,
            "ragd_first_token_s": med(ragd_first), "raw_first_token_s": med(raw_first),
            "first_token_ratio": med(ragd_first) / med(raw_first),
            "first_token_ratio_median_of_pairs": med(pair_ratios),
            "ragd_tokens_per_s": med(ragd_tps), "raw_tokens_per_s": med(raw_tps),
            "tokens_per_s_ratio": med(ragd_tps) / med(raw_tps),
        }
        c.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ask-overhead.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
