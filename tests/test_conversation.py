"""Follow-ups made standalone, conversations kept with the history, and whole-document requests: the real
answer path (parsing, catalog, verification) with a scripted LLM through its seam."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ragd.index.answer import whole
from ragd.index.answer.ask import AskSettings
from ragd.index.answer.conversations import ConversationError, Conversations, checked_id, new_conversation_id
from ragd.index.answer.followup import (
    Turn,
    leans_on_earlier,
    lexical_standalone,
    resolved,
    topped_up,
    usable_rewrite,
)
from ragd.index.answer.history import History, HistorySettings
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.answer.verify import normalise
from ragd.index.errors import NotInIndex
from ragd.index.llm.settings import DEMO_NOTICE
from ragd.index.models import Hit
from ragd.index.scope import Scope
from tests.fakes import DEMO_MODEL_ID, ScriptedLLM
from tests.test_answer import World

Q1 = "When was the Skerry Point lighthouse first lit?"
A1 = "The Skerry Point lighthouse was first lit in 1867 by keeper Abel Morrow [1]."


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.pool.close()


def test_what_leans_on_an_earlier_turn():
    assert leans_on_earlier("And the beans?")
    assert leans_on_earlier("What cracked its glass?")
    assert leans_on_earlier("Why?")
    assert leans_on_earlier("それはいつ休館する？")
    assert not leans_on_earlier("When was the Skerry Point lighthouse first lit?")
    assert not leans_on_earlier("小石川の図書館は何曜日に休館しますか？")


def test_a_follow_up_carries_the_earlier_turns_rarest_terms(world):
    df = world.catalog.document_frequencies
    turns = (Turn(Q1, A1, Q1),)
    searched = lexical_standalone("What cracked its glass?", turns, df)
    assert searched.startswith("What cracked its glass?") and "skerry" in searched.lower()
    assert lexical_standalone("Who planted the quince tree?", turns, df) == "Who planted the quince tree?"
    # chained: the second follow-up keeps the referent the first one carried
    chain = resolved((Turn(Q1, A1), Turn("Who lit it?", "")), df)
    assert "skerry" in chain[1].searched.lower()


def test_japanese_follow_up_carries_its_referent(world):
    df = world.catalog.document_frequencies
    turns = (Turn("小石川の図書館は何曜日に休館しますか？", "火曜日です。"),)
    searched = lexical_standalone("それはどこにある？", resolved(turns, df), df)
    assert "小石川" in searched


def test_the_answer_to_a_follow_up_is_found_and_shows_what_was_searched(world):
    llm = ScriptedLLM("A storm in 1953 cracked the lantern glass [1].")
    answer = world.asker(llm).ask("What cracked its glass?", options=AskOptions(turns=(Turn(Q1, A1, Q1),)))
    assert answer.grounded and answer.citations[0].path.endswith("lighthouse.md")
    assert answer.searched != answer.question and "skerry" in answer.searched.lower()
    assert "Earlier in this conversation the user asked: " + Q1 in llm.prompts[0]
    assert answer.to_json()["searched"] == answer.searched


def test_a_capable_model_rewrites_the_follow_up(world):
    def reply(prompt: str) -> str:
        if "Standalone question:" in prompt:
            return "Standalone question: What cracked the glass of the Skerry Point lighthouse?\n"
        return "A storm in 1953 cracked the lantern glass [1]."

    llm = ScriptedLLM(reply)
    answer = world.asker(llm, rewrite="model").ask("What cracked its glass?", options=AskOptions(
        turns=(Turn(Q1, A1, Q1),)))
    # the rewrite, then the earlier question's rare terms it left out ("first lit"), as the lexical fallback carries
    assert answer.searched == "What cracked the glass of the Skerry Point lighthouse? first lit"
    assert "Q: " + Q1 in llm.prompts[0] and answer.grounded


def test_an_unusable_rewrite_falls_back_to_the_carried_terms(world):
    llm = ScriptedLLM(lambda p: "I cannot help with that." if "Standalone question:" in p else "No idea.")
    answer = world.asker(llm, rewrite="model").ask("What cracked its glass?",
                                                  options=AskOptions(turns=(Turn(Q1, A1, Q1),)))
    assert answer.searched.startswith("What cracked its glass?") and "skerry" in answer.searched.lower()
    assert usable_rewrite("What cracked its glass?", "Q: What cracked the glass?") == "What cracked the glass?"
    assert usable_rewrite("What cracked its glass?", "") is None


def test_a_rewrite_is_topped_up_with_the_carried_terms_it_left_out(world):
    df = world.catalog.document_frequencies
    turns = (Turn(Q1, A1, Q1),)
    vague = topped_up("What cracked the lighthouse glass?", "What cracked its glass?", turns, df)
    assert vague.startswith("What cracked the lighthouse glass? ") and "skerry" in vague.lower()
    named = "What cracked the glass of the Skerry Point lighthouse?"
    topped = topped_up(named, "What cracked its glass?", turns, df)
    assert topped.startswith(named) and topped.lower().count("skerry") == 1  # a term it names is not added again


def test_conversations_are_kept_with_the_history_and_pruned_with_it(tmp_path):
    path = tmp_path / "history.sqlite"
    kept = Conversations(path, HistorySettings())
    conv = new_conversation_id()
    with History(path) as history:
        for i, q in enumerate(["first?", "second?", "third?"]):
            history.record(Answer(q, f"answer {i}", True, conversation=conv, searched=q + " x"), at=1000.0 + i)
        history.record(Answer("elsewhere?", "other", True, conversation="other"), at=2000.0)
    turns = kept.turns(conv)
    assert [t.question for t in turns] == ["first?", "second?", "third?"]
    assert turns[1].searched == "second? x" and turns[2].answer == "answer 2"
    with History(path) as history:
        history.prune(retention_days=1, now=1000.0 + 86400 + 1.5)
    assert [t.question for t in kept.turns(conv)] == ["third?"]
    with pytest.raises(ConversationError):
        checked_id("not an id!")


def test_with_the_history_off_a_conversation_lives_in_memory(tmp_path):
    kept = Conversations(tmp_path / "history.sqlite", HistorySettings(enabled=False))
    kept.answered(Answer("first?", "one", True, conversation="c1", searched="first?"))
    assert [t.question for t in kept.turns("c1")] == ["first?"]
    assert not (tmp_path / "history.sqlite").exists()


LONG = [f"Paragraph {i} of the report concerns the harbour district number {i}, its ferries and its warehouses."
        for i in range(1, 61)]


def _first_source_sentence(prompt: str) -> str:
    """What the scripted model "condenses" a batch into: its first source's first sentence, cited."""
    body = prompt.split("[1] ", 1)[1].split("\n", 1)[1]
    return body.split(".")[0].strip() + ". [1]"


def test_a_summary_of_a_long_document_cites_its_beginning_middle_and_end(world):
    path = world.write("report.md", "# Harbour report\n\n" + "\n\n".join(LONG) + "\n")
    world.index()
    llm = ScriptedLLM(_first_source_sentence, context_length=512)
    assert llm.count_tokens(path.read_text(encoding="utf-8")) > 2 * llm.context_length
    answer = world.asker(llm, answer_tokens=128).ask("Summarise this report",
                                                     options=AskOptions(scope=Scope(paths=(str(path),))))
    assert len(llm.prompts) >= 3, "read in several passes, each within the context"
    assert all(llm.count_tokens(p) < llm.context_length for p in llm.prompts)
    assert answer.grounded and answer.citations
    lines = {c.line_start for c in answer.citations}
    total = len(path.read_text(encoding="utf-8").splitlines())
    assert min(lines) <= total * 0.2 and any(total * 0.4 <= n <= total * 0.6 for n in lines)
    assert max(lines) >= total * 0.8
    text = normalise(path.read_text(encoding="utf-8"))
    for c in answer.citations:
        assert c.path == str(path) and normalise(c.quote) in text
    assert all(s.citations and s.support != "unsupported" for s in answer.sentences)
    for s in answer.sentences:
        assert answer.answer[s.start:s.end] == s.text
    assert re.search(r"Read whole: report\.md \(\d+ passages in \d+ passes\)", answer.answer)


def test_what_a_file_says_about_something_keeps_only_what_bears_on_it(world):
    path = world.write("report.md", "# Harbour report\n\n" + "\n\n".join(LONG) + "\n")
    world.index()

    def reply(prompt: str) -> str:
        return ("Paragraph 42 of the report concerns the harbour district number 42 [1]."
                if "district number 42," in prompt else "The passages say nothing about it.")

    llm = ScriptedLLM(reply, context_length=512)
    answer = world.asker(llm).ask("What does it say about district 42?",
                                  options=AskOptions(scope=Scope(paths=(str(path),))))
    assert [c.line_start for c in answer.citations] == [
        next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if "number 42," in ln)]


def test_comparing_two_files_reads_each_whole(world):
    garden = str(Path(world.root / "garden.txt"))
    lighthouse = str(Path(world.root / "lighthouse.md"))
    llm = ScriptedLLM(_first_source_sentence)
    answer = world.asker(llm).ask("Summarise and compare these",
                                  options=AskOptions(scope=Scope(paths=(garden, lighthouse))))
    assert answer.answer.startswith("garden.txt:") and "\n\nlighthouse.md:\n" in answer.answer
    assert {c.path for c in answer.citations} == {garden, lighthouse}


def test_a_whole_document_request_for_a_file_not_indexed_is_refused(world):
    with pytest.raises(NotInIndex, match="not an indexed file"):
        world.asker(ScriptedLLM("x")).ask("Summarise", options=AskOptions(scope=Scope(paths=("/nowhere.md",))))


def test_settings_default_to_carried_terms():
    assert AskSettings().rewrite == "lexical"


def test_no_passage_is_cut_short_between_two_passes():
    def hit(i: int) -> Hit:
        text = " ".join(f"Line {i}.{j} of the ledger names warehouse {i * 100 + j}." for j in range(1, 3 + i % 9))
        return Hit(chunk_id=f"c{i}", path="/ledger.md", text=text, score=0.0, page=None, line_start=i, line_end=i)

    hits = [hit(i) for i in range(1, 40)]
    llm = ScriptedLLM("Nothing here.", context_length=700)
    read = whole.read_whole("Summarise", "/ledger.md", hits, llm, lambda *_: None, answer_tokens=128, lang="en")
    assert read.read == len(hits) and read.batches > 3
    for h in hits:  # each passage is in some pass whole, not cut at the end of one and skipped by the next
        assert any(h.text in p for p in llm.prompts), h.text[:40]


def test_a_document_past_the_passes_is_read_in_strides_and_says_so(world, monkeypatch):
    monkeypatch.setattr(whole, "MAX_BATCHES", 2)
    path = world.write("report.md", "# Harbour report\n\n" + "\n\n".join(LONG) + "\n")
    world.index()
    llm = ScriptedLLM(_first_source_sentence, context_length=512)
    answer = world.asker(llm).ask("Summarise", options=AskOptions(scope=Scope(paths=(str(path),))))
    assert re.search(r"Read in part: report\.md \((\d+) of (\d+) passages in \d+ passes", answer.answer)
    read, total = map(int, re.search(r"\((\d+) of (\d+)", answer.answer).groups())
    assert 0 < read < total
    assert "Harbour report" in answer.searched  # a follow-up carries the file's name


def test_standalone_questions_are_not_taken_for_follow_ups_and_rewrites_add_no_numbers():
    assert not leans_on_earlier("Is there a deadline for the tax return of the garden company?")
    assert not leans_on_earlier("Which law that the parliament passed covers the harbour?")
    turns = (Turn("When were the tomatoes planted?", "On the ninth of April."),)
    assert usable_rewrite("And the beans?", "When were the beans planted in 1999?", turns) is None
    assert usable_rewrite("And the beans?", "When were the beans planted?", turns) == "When were the beans planted?"


def test_a_whole_file_answer_carries_the_demo_notice_only_over_the_models_words(world):
    def demo(reply) -> ScriptedLLM:
        return ScriptedLLM(reply, model_id=DEMO_MODEL_ID)

    whole = AskOptions(scope=Scope(paths=(str(world.root / "lighthouse.md"),)))
    condensed = world.asker(demo(_first_source_sentence)).ask("Summarise it", options=whole)
    assert condensed.grounded and condensed.notice == DEMO_NOTICE
    opening = world.asker(demo("Purple elephants dance on Mondays.")).ask("Summarise it", options=whole)
    assert opening.grounded and opening.notice is None  # every batch stood for by its own first sentence, quoted
    assert "Skerry Point" in opening.answer
