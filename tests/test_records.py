"""The records every face shares: one JSON shape each, read back whole, and one way to say where a passage is."""

from __future__ import annotations

from ragd.daemon.service.records import SourceInfo
from ragd.index.answer.models import Answer, Citation, Sentence
from ragd.index.location import cited, cited_of, place, place_of
from ragd.index.models import Hit, IndexStats
from ragd.index.store.catalog import FileRecord


def test_an_answer_read_back_from_its_json_is_the_same_answer() -> None:
    hit = Hit("c1", "/d/a.pdf", "The kiln is fired to 1240 degrees.", 0.8, 3, 10, 12, ("Pottery",), "Notes", "m1")
    answer = Answer("How hot?", "It is fired to 1240 degrees [1]. It glows.", True,
                    citations=[Citation(1, "/d/a.pdf", 3, 10, 12, "fired to 1240 degrees")], nearest=[hit],
                    model="m", timings={"total": 1.23456},
                    sentences=[Sentence(0, 31, "It is fired to 1240 degrees.", "supported", (0,)),
                               Sentence(32, 41, "It glows.", "unsupported", (), ("glows",))],
                    left_out=["An invented claim."])
    again = Answer.from_json(answer.to_json())
    assert again.to_json() == answer.to_json()
    assert again.supported_share == answer.supported_share and 0 < answer.supported_share < 1  # type: ignore[operator]
    assert Hit.from_json(hit.to_json()).to_json() == hit.to_json()


def test_a_run_through_the_daemon_is_the_change_in_its_running_totals() -> None:
    totals = IndexStats()
    first = IndexStats(files_indexed=3, chunks_embedded=9, seconds=1.5,
                       failures=[{"path": "/d/x.pdf", "status": "failed", "reason": "bad xref"}])
    totals.add(first)
    before = totals.counts()
    totals.add(IndexStats(files_indexed=2, files_unchanged=5, files_failed=1, seconds=0.25))
    run = IndexStats.between(before, totals.counts())
    assert (run.files_indexed, run.files_unchanged, run.files_failed, run.chunks_embedded) == (2, 5, 1, 0)
    assert run.seconds == 0.25 and totals.failures == first.failures


def test_a_file_has_one_shape_with_reason_everywhere() -> None:
    record = FileRecord("/d/x.pdf", 10, 0, None, "failed", "bad xref", 0, 1.0)
    assert record.problem() == {"path": "/d/x.pdf", "status": "failed", "reason": "bad xref"}
    assert record.to_json() == {**record.problem(), "size": 10, "chunks": 0, "indexed_at": 1.0}
    source = SourceInfo("/d", True, 4, watched=False)
    assert SourceInfo.from_json(source.to_json()) == source


def test_places_are_said_one_way() -> None:
    assert place(3, 10, 12) == "p. 3, lines 10-12"
    assert place(None, 7, 7) == "line 7" == place(None, 7, None)
    assert place(2, None, None) == "p. 2" and place(None, None, None) == ""
    assert cited("/d/a.md", None, 4, 9) == "/d/a.md (lines 4-9)" and cited("/d/a.md", None, None, None) == "/d/a.md"


def test_sheets_slides_and_ocr_are_said_the_same_way_from_a_hit_its_json_and_a_citation() -> None:
    assert place(None, 4, 9, sheet="March") == 'sheet "March", rows 4-9'
    assert place(None, 5, 5, sheet="") == 'sheet "", row 5'
    assert place(None, None, None, slide=3) == "slide 3"
    assert place(2, 1, 4, ocr=True) == "p. 2, lines 1-4, OCR"
    hit = Hit("c1", "/d/costs.xlsx", "Item: Hotel · Amount: 120", 0.5, None, 4, 6, ("March",), sheet="March")
    again = Hit.from_json(hit.to_json())
    assert again == hit and again.sheet == "March" and not again.ocr
    assert place_of(hit) == place_of(hit.to_json()) == 'sheet "March", rows 4-6'
    assert cited_of(hit) == '/d/costs.xlsx (sheet "March", rows 4-6)'
    citation = Citation(1, "/d/talk.pptx", None, None, None, "Thanks for coming", slide=7)
    assert Citation.from_json(citation.to_json()) == citation and cited_of(citation) == "/d/talk.pptx (slide 7)"
    scan = Citation(2, "/d/scan.pdf", 4, 2, 3, "the invoice total", ocr=True)
    assert Citation.from_json(scan.to_json()).ocr and cited_of(scan) == "/d/scan.pdf (p. 4, lines 2-3, OCR)"
