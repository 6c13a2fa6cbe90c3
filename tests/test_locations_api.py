"""Where a passage is, through the daemon's API: a spreadsheet row is found, cited and shown in context with its
sheet and row numbers (the real Runtime in process: writer, stores, parser pool; a scripted model)."""

from __future__ import annotations

from pathlib import Path

from ragd.daemon import config as config_mod
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from tests.fakes import HashingEmbedder, MemoryVectors, ScriptedLLM
from tests.inprocess import serving, settle
from tests.test_parse_sheets import _xlsx

ROWS: list[list[str | int]] = [["Date", "Item", "Amount"], ["2024-03-01", "Taxi", 18], ["2024-03-02", "Hotel", 120],
                               ["2024-03-03", "Lunch", 14]]


def test_a_sheet_row_is_searched_cited_and_shown_with_its_sheet_and_rows(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "expenses.xlsx").write_bytes(_xlsx(ROWS, sheet="March"))
    (docs / "notes.txt").write_text("Row 3 of this note is not a spreadsheet row.\n", encoding="utf-8")
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    llm = ScriptedLLM("The hotel cost 120 on 2024-03-02 [1].")
    runtime = Runtime(config, {}, settings=ServerSettings(debounce_s=0.0, reconcile_minutes=0),
                      embedder=HashingEmbedder(), vectors=MemoryVectors(), llm=llm)
    runtime.writes.catalog.add_source(str(docs))
    with serving(runtime) as client:
        settle(client)
        hits = client.post("/v1/search", json={"query": "hotel 120", "k": 3, "mode": "lexical"}).json()["hits"]
        hit = next(h for h in hits if h["path"].endswith("expenses.xlsx"))
        assert hit["sheet"] == "March" and hit["line_start"] <= 3 <= hit["line_end"] and hit["ocr"] is False
        assert hit["slide"] is None and "Item: Hotel · Amount: 120" in hit["text"]

        answer = client.post("/v1/ask", json={"question": "How much was the hotel in March?"}).json()
        citation = answer["citations"][0]
        assert citation["path"].endswith("expenses.xlsx") and citation["sheet"] == "March"
        assert citation["line_start"] == citation["line_end"] == 3  # the hotel's row, as a spreadsheet app numbers it

        context = client.get("/v1/documents/context", params={"path": hit["path"], "sheet": "March",
                                                              "line_start": 3, "line_end": 3, "around": 1}).json()
        assert context["sheet"] == "March"
        assert [(line["n"], line["cited"]) for line in context["lines"]] == [(2, False), (3, True), (4, False)]
        assert "Hotel" in context["lines"][1]["text"]
        other = client.get("/v1/documents/context", params={"path": hit["path"], "sheet": "April", "line_start": 3})
        assert other.json()["lines"] == []  # no such sheet: no rows of another sheet stand in for it
