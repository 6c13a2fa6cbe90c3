"""kill -9 during `ragd index` at several points, then `ragd index` again: the stores agree and
search gives the same results as an uninterrupted run."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, ragd, ragd_cmd, ragd_env, ragd_json

pytestmark = pytest.mark.slow

QUERIES = ["Which bacterium caused the plague?", "chloroplast thylakoid membranes", "comb jellies swim",
           "梅雨前線", "complexity classes P and NP"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data) -> Path:
    """About 40 files cut from real articles, so a run takes long enough to be interrupted."""
    root = tmp_path_factory.mktemp("crash-corpus")
    sources = [shared_data / "squad_en/docs/Black_Death.txt", shared_data / "squad_en/docs/Ctenophora.md",
               shared_data / "squad_en/docs/Computational_complexity_theory.txt",
               shared_data / "jsquad_ja/docs/梅雨.md", shared_data / "squad_en/docs/Apollo_program.md"]
    n = 0
    for src in sources:
        paras = [p for p in re.split(r"\n\s*\n", src.read_text(encoding="utf-8")) if p.strip()]
        for i in range(0, len(paras), 3):
            (root / f"{src.stem}-{i:03d}{src.suffix}").write_text("\n\n".join(paras[i : i + 3]), encoding="utf-8")
            n += 1
    assert n >= 30
    return root


def _results(home: Path) -> list[list[tuple[str, str, int | None]]]:
    out = ragd(home, "search", "-", "-k", "5", input="\n".join(QUERIES) + "\n").stdout
    return [[(h["path"], h["text"], h["line_start"]) for h in json.loads(line)] for line in out.splitlines()]


def _files_done(home: Path) -> int:
    db = home / "data" / "catalog.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


def _kill_when(home: Path, corpus: Path, files_done: int, delay: float) -> None:
    proc = subprocess.Popen(ragd_cmd("index", str(corpus), "--json"), env=ragd_env(home), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while _files_done(home) < files_done and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, corpus):
    home = tmp_path_factory.mktemp("reference")
    ragd(home, "index", str(corpus))
    return _results(home)


@pytest.mark.parametrize("files_done, delay", [(0, 0.0), (0, 2.5), (5, 0.0), (17, 0.05), (33, 0.0)])
def test_kill_9_during_first_index_then_rerun(tmp_path, corpus, reference, files_done, delay):
    _kill_when(tmp_path, corpus, files_done, delay)
    stats = ragd_json(tmp_path, "index", str(corpus))
    assert stats["files_failed"] == 0
    assert ragd_json(tmp_path, "verify") == {"ok": True, "problems": []}
    assert _results(tmp_path) == reference


def test_kill_9_during_an_update_then_rerun(tmp_path, corpus, reference):
    ragd(tmp_path, "index", str(corpus))
    for f in sorted(corpus.iterdir())[:12]:  # touch 12 files so the next run re-hashes them
        f.write_bytes(f.read_bytes() + b"\n")
    try:
        _kill_when(tmp_path, corpus, 0, 1.5)
        ragd(tmp_path, "index", str(corpus))
        assert ragd_json(tmp_path, "verify") == {"ok": True, "problems": []}
        assert [[(p, t) for p, t, _ in q] for q in _results(tmp_path)] == \
            [[(p, t) for p, t, _ in q] for q in reference]
    finally:
        for f in sorted(corpus.iterdir())[:12]:
            f.write_bytes(f.read_bytes()[:-1])
