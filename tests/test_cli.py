"""The CLI contract, end to end: the real default embedder, a real chromadb, real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import ragd, ragd_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for rel in ["squad_en/docs/Black_Death.txt", "squad_en/docs/Chloroplast.html", "squad_en/docs/Ctenophora.md",
                "jsquad_ja/docs/梅雨.md", "docs_corpus/pdf/pypdf__crazyones.pdf",
                "docs_corpus/txt/chardet__SHIFT_JIS___ude_1.txt", "docs_corpus/malformed_hostile/qpdf__bad1.pdf",
                "docs_corpus/malformed_hostile/poi__poc-xmlbomb.xlsx",
                "docs_corpus/malformed_hostile/tika__droste.zip"]:
        src = shared_data / rel
        shutil.copy(src, root / src.name)
    return root


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, corpus):
    home = tmp_path_factory.mktemp("home")
    first = ragd_json(home, "index", str(corpus))
    return home, first


def test_index_summary_has_the_contract_fields(indexed):
    _, s = indexed
    for key in ("files_indexed", "files_unchanged", "files_failed", "files_removed", "chunks_embedded", "seconds"):
        assert key in s
    assert s["files_indexed"] == 6 and s["files_failed"] == 2 and s["files_skipped"] == 1
    assert s["chunks_embedded"] > 50


def test_second_index_embeds_nothing(indexed):
    home, _ = indexed
    s = ragd_json(home, "index")
    assert (s["files_indexed"], s["chunks_embedded"], s["files_unchanged"], s["files_skipped"]) == (0, 0, 8, 1)


def test_search_json_hits_have_locations(indexed, corpus):
    home, _ = indexed
    hits = ragd_json(home, "search", "Which bacterium caused the Black Death plague?", "-k", "3")
    assert len(hits) == 3
    top = hits[0]
    assert top["path"] == str(corpus / "Black_Death.txt")
    assert set(top) >= {"path", "page", "line_start", "line_end", "score", "text"}
    lines = (corpus / "Black_Death.txt").read_text().splitlines()
    span = "\n".join(lines[top["line_start"] - 1 : top["line_end"]])
    assert top["text"].split("\n")[0][:60] in span
    assert top["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_japanese_query_finds_japanese_text(indexed, corpus):
    home, _ = indexed
    hits = ragd_json(home, "search", "梅雨がないのはどこですか", "-k", "3")
    assert hits[0]["path"] == str(corpus / "梅雨.md")
    assert "梅雨" in hits[0]["text"]


def test_pdf_hits_carry_pages(indexed, corpus):
    home, _ = indexed
    hits = ragd_json(home, "search", "Here's to the crazy ones, the misfits, the rebels", "-k", "1")
    assert hits[0]["path"] == str(corpus / "pypdf__crazyones.pdf") and hits[0]["page"] == 1


def test_batch_search_reads_queries_from_stdin(indexed):
    home, _ = indexed
    out = ragd(home, "search", "-", "-k", "2", input="ctenophore comb rows\nchloroplast thylakoid\n").stdout
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and all(len(hits) == 2 for hits in lines)
    assert lines[0][0]["path"].endswith("Ctenophora.md") and lines[1][0]["path"].endswith("Chloroplast.html")


def test_status_sources_verify(indexed, corpus):
    home, _ = indexed
    status = ragd_json(home, "status")
    assert status["indexed"] == 6 and status["failed"] == 2 and status["chunks"] > 50
    reasons = {Path(p["path"]).name: p for p in status["problems"]}
    assert reasons["qpdf__bad1.pdf"]["status"] == "failed" and reasons["qpdf__bad1.pdf"]["reason"]
    assert reasons["poi__poc-xmlbomb.xlsx"]["status"] == "failed" and reasons["poi__poc-xmlbomb.xlsx"]["reason"]
    assert reasons["tika__droste.zip"]["status"] == "skipped"
    assert ragd_json(home, "sources") == [{"path": str(corpus), "exists": True, "files": 9, "from_config": False,
                                           "watched": False, "problem": None}]  # no daemon: nothing watches it
    assert ragd_json(home, "verify") == {"ok": True, "problems": []}
    assert "ok" in ragd(home, "verify").stdout


def test_user_errors_are_one_line_without_traceback(tmp_path):
    proc = ragd(tmp_path, "index", str(tmp_path / "nope"), check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("ragd: no such file or directory")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "config.toml").write_text("embedder = [")
    proc = ragd(tmp_path, "status", check=False)
    assert proc.returncode == 1 and "not valid TOML" in proc.stderr and "Traceback" not in proc.stderr
    proc = ragd(tmp_path, "index", check=False, RAGD_HOME=str(tmp_path / "fresh"))
    assert proc.returncode == 1 and "nothing to index" in proc.stderr


def test_unknown_model_is_a_user_error(tmp_path, corpus):
    proc = ragd(tmp_path, "index", str(corpus), check=False, RAGD_EMBEDDER="no-such-model")
    assert proc.returncode == 1 and "unknown embedding model" in proc.stderr


def test_changing_the_model_reindexes_in_place(tmp_path, corpus):
    ragd(tmp_path, "index", str(corpus))
    s = ragd_json(tmp_path, "index", RAGD_EMBEDDER="minilm")
    assert s["files_indexed"] == 6 and s["chunks_embedded"] > 0
    assert ragd_json(tmp_path, "status", RAGD_EMBEDDER="minilm")["model"] == \
        "sentence-transformers/all-MiniLM-L6-v2@onnx-int8"
    assert ragd_json(tmp_path, "verify", RAGD_EMBEDDER="minilm")["ok"] is True
    hits = ragd_json(tmp_path, "search", "comb jelly cilia rows", "-k", "1", RAGD_EMBEDDER="minilm")
    assert hits[0]["path"].endswith("Ctenophora.md")
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(str(tmp_path / "data" / "chroma"), Settings(anonymized_telemetry=False))
    assert [c.name for c in client.list_collections()] == ["ragd-sentence-transformers-all-MiniLM-L6-v2-onnx-int8"]


def test_progress_bar_on_a_terminal(tmp_path, corpus):
    import os
    import pty
    import subprocess

    from tests.helpers import REPO, ragd_cmd, ragd_env

    leader, follower = pty.openpty()
    proc = subprocess.Popen(ragd_cmd("index", str(corpus)), env=ragd_env(tmp_path, COLUMNS="100"), cwd=REPO,
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    out = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    assert proc.wait(timeout=300) == 0
    text = out.decode(errors="replace")
    assert "indexing" in text and "━" in text  # rich's bar
    assert "6 indexed" in text


def test_removing_a_source_drops_its_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "one.txt").write_text("The heron waits at the pond.")
    (b / "two.txt").write_text("The kettle whistles in the kitchen.")
    ragd(tmp_path, "index", str(a), str(b))
    out = ragd(tmp_path, "sources", "remove", str(b)).stdout
    assert "1 files dropped" in out
    assert [s["path"] for s in ragd_json(tmp_path, "sources")] == [str(a)]
    hits = ragd_json(tmp_path, "search", "kettle whistles", "-k", "5")
    assert all(not h["path"].startswith(str(b)) for h in hits)
    assert ragd_json(tmp_path, "verify")["ok"] is True
    proc = ragd(tmp_path, "sources", "remove", str(b), check=False)
    assert proc.returncode == 1 and "not a source" in proc.stderr
