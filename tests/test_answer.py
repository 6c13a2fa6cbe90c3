"""The answer path through the real seams: real parsing, catalog and verification; a scripted LLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragd.connectors.files import FilesConnector
from ragd.index.answer import cite, prompt
from ragd.index.answer.ask import NOT_FOUND, Asker, AskSettings
from ragd.index.answer.models import Answer, Source
from ragd.index.answer.verify import Verifier, find_in_part, normalise
from ragd.index.isolate import ParsePool
from ragd.index.llm.settings import DEMO_NOTICE, model_notice
from ragd.index.models import Hit, Part
from ragd.index.pipeline import Indexer
from ragd.index.retrieve import Retriever
from ragd.index.store.catalog import Catalog
from ragd.index.store.embed_cache import EmbeddingCache
from tests.fakes import DEMO_MODEL_ID, HashingEmbedder, MemoryVectors, ScriptedLLM

FILES = {
    "lighthouse.md": (
        "# The Lighthouse\n\n"
        "The Skerry Point lighthouse was first lit in 1867 by keeper Abel Morrow.\n"
        "Its lamp burned whale oil until 1901.\n\n"
        "## Repairs\n\n"
        "A storm in 1953 cracked the lantern glass, and the light was dark for nine weeks.\n"),
    "garden.txt": "The quince tree in the walled garden was planted by Edith Vance in 1921.\n\n"
                  "Every autumn the fruit is made into membrillo.\n",
    "雑記.md": "# 雑記\n\n小石川の図書館は毎週火曜日に休館する。\n",
}


class World:
    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "docs"
        for rel, text in FILES.items():
            self.write(rel, text)
        self.catalog = Catalog(tmp / "catalog.sqlite")
        self.vectors = MemoryVectors()
        self.embedder = HashingEmbedder()
        self.pool = ParsePool(workers=1, timeout_s=30)
        self.cache = EmbeddingCache(tmp / "cache.sqlite")
        self.index()

    def index(self) -> None:
        Indexer(self.catalog, self.cache, self.vectors, self.embedder, lambda: ParsePool(workers=1, timeout_s=30),
                chunk_tokens=64).run([FilesConnector(self.root)])

    def write(self, rel: str, text: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    def asker(self, llm: ScriptedLLM, **settings: object) -> Asker:
        return Asker(Retriever(self.catalog, self.vectors, self.embedder), self.catalog, lambda: llm,
                     Verifier(self.pool.parse), AskSettings(**settings))  # type: ignore[arg-type]


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.pool.close()


def _file_text(path: str) -> str:
    return normalise(Path(path).read_text(encoding="utf-8"))


def test_grounded_answer_cites_the_file_and_lines_with_a_verbatim_quote(world):
    llm = ScriptedLLM("The lighthouse was first lit in 1867 by keeper Abel Morrow [1].")
    answer = world.asker(llm).ask("When was the Skerry Point lighthouse first lit?")
    assert answer.grounded
    assert len(llm.prompts) == 1 and "[1]" in llm.prompts[0]
    cit = answer.citations[0]
    assert cit.path.endswith("lighthouse.md")
    assert cit.quote == "The Skerry Point lighthouse was first lit in 1867 by keeper Abel Morrow."
    assert (cit.line_start, cit.line_end) == (3, 3)
    assert normalise(cit.quote) in _file_text(cit.path)
    lines = Path(cit.path).read_text(encoding="utf-8").splitlines()
    assert cit.quote in lines[cit.line_start - 1]
    assert answer.to_json()["citations"][0]["quote"] == cit.quote


def test_citations_come_without_markers_and_each_claim_gets_its_own(world):
    llm = ScriptedLLM("It was first lit in 1867 by keeper Abel Morrow. A storm in 1953 cracked the lantern glass.")
    answer = world.asker(llm).ask("What happened to the Skerry Point lighthouse in 1867 and in 1953?")
    quotes = [c.quote for c in answer.citations]
    assert any("1867" in q for q in quotes) and any("1953" in q for q in quotes)
    storm = next(c for c in answer.citations if "1953" in c.quote)
    assert storm.line_start == 8


def test_question_the_files_do_not_cover_never_reaches_the_model(world):
    llm = ScriptedLLM("Napoleon was crowned in 1804.")
    answer = world.asker(llm).ask("When was Napoleon crowned emperor of France?")
    assert not answer.grounded
    assert answer.answer == NOT_FOUND["en"]
    assert answer.citations == []
    assert llm.prompts == []  # the model was not asked, so it could not invent


def test_japanese_question_gets_a_japanese_refusal_and_a_japanese_prompt(world):
    llm = ScriptedLLM("小石川の図書館は毎週火曜日に休館する。")
    answer = world.asker(llm).ask("小石川の図書館はいつ休館しますか？")
    assert answer.grounded, answer
    assert answer.citations[0].path.endswith("雑記.md")
    assert "日本語" in llm.prompts[0]
    missing = world.asker(llm).ask("富士山の高さは何メートルですか？")
    assert not missing.grounded and missing.answer == NOT_FOUND["ja"]


def test_unsupported_answer_is_replaced_by_a_quoted_passage(world):
    llm = ScriptedLLM("Purple elephants dance on Mondays.")
    answer = world.asker(llm).ask("Who planted the quince tree in the walled garden?")
    assert answer.grounded
    assert "Purple" not in answer.answer
    assert "Edith Vance" in answer.answer
    assert answer.citations[0].path.endswith("garden.txt")


def test_unsupported_answer_without_fallback_is_not_grounded(world):
    llm = ScriptedLLM("Purple elephants dance on Mondays.")
    answer = world.asker(llm, extractive_fallback=False).ask("Who planted the quince tree in the walled garden?")
    assert not answer.grounded
    assert "Purple" not in answer.answer and answer.nearest


def test_a_file_changed_since_indexing_loses_its_citation(world):
    world.write("garden.txt", "This file was rewritten.\n")
    llm = ScriptedLLM("The quince tree was planted by Edith Vance in 1921.")
    answer = world.asker(llm, extractive_fallback=False).ask("Who planted the quince tree in the walled garden?")
    assert answer.citations == [] and not answer.grounded


def test_prompt_stays_within_the_context_budget():
    hits = [Hit(chunk_id=str(i), path=f"/d/{i}.txt", text="word " * 300 + ".", score=1.0, page=None,
                line_start=1, line_end=1) for i in range(10)]
    llm = ScriptedLLM("", context_length=1200)
    messages, sources = prompt.build("What is the word?", hits, context_length=1200, answer_tokens=200,
                                     count=llm.count_tokens)
    total = sum(llm.count_tokens(m.content) for m in messages)
    assert total <= 1200 - 200
    assert 1 <= len(sources) < 10
    assert [s.n for s in sources] == list(range(1, len(sources) + 1))


def test_language_follows_the_question():
    assert prompt.language("小石川の図書館はいつ休館しますか？") == "ja"
    assert prompt.language("When does the library close?") == "en"
    assert prompt.language("What does 図書館 mean?") == "en"


def test_claims_drop_markers_and_keep_cited_numbers():
    answer = "The lamp burned whale oil [2]. It was lit in 1867 [1, 3]."
    out = cite.claims(answer)
    assert [(c.text, c.cited) for c in out] == [("The lamp burned whale oil.", {2}), ("It was lit in 1867.", {1, 3})]
    assert [answer[c.start : c.end] for c in out] == ["The lamp burned whale oil [2].", "It was lit in 1867 [1, 3]."]


def test_quote_location_survives_reflowed_whitespace():
    part = Part(text="first line\nThe keeper   lit the\n  lamp at dusk.\nlast", line_start=10, line_end=13)
    place = find_in_part("The keeper lit the lamp at dusk.", part)
    assert place is not None and (place.line_start, place.line_end) == (11, 12)
    assert find_in_part("The keeper lit the lamp at dawn.", part) is None


def test_best_match_needs_most_of_the_claims_terms():
    src = [Source(1, Hit(chunk_id="a", path="/x", text="Alpacas give soft wool. Llamas carry loads.", score=1,
                         page=None, line_start=1, line_end=1))]
    pool = cite.candidates(src)
    assert cite.best_match("Alpacas give wool", set(), pool, set()) is not None
    assert cite.best_match("Alpacas give tender meat, milk and wool", set(), pool, set()) is None  # 3 of 6 terms
    assert cite.best_match("Penguins swim in cold oceans", set(), pool, set()) is None


def test_only_answers_written_by_the_demo_model_carry_its_notice():
    demo_model = DEMO_MODEL_ID
    assert model_notice(demo_model) == DEMO_NOTICE
    assert model_notice("gguf:qwen2.5-7b-instruct-q4_k_m.gguf") is None
    assert model_notice("qwen2.5-7b") is None  # an OpenAI-compatible server's model
    answer = Answer("q", "Planted in April [1].", grounded=True, model=demo_model, notice=DEMO_NOTICE)
    assert answer.to_json()["notice"] == DEMO_NOTICE
    assert Answer.from_json(answer.to_json()).notice == DEMO_NOTICE  # as the CLI reads the daemon's answer


def test_the_demo_models_notice_comes_only_with_what_it_wrote(world):
    def demo(reply: str) -> ScriptedLLM:
        return ScriptedLLM(reply, model_id=DEMO_MODEL_ID)

    written = world.asker(demo("The lighthouse was first lit in 1867 [1].")).ask("When was the lighthouse lit?")
    assert written.grounded and written.notice == DEMO_NOTICE
    quoted = world.asker(demo("Purple elephants dance on Mondays.")).ask("Who planted the quince tree?")
    assert quoted.grounded and "Edith Vance" in quoted.answer and quoted.notice is None  # the file's own words
    strict = world.asker(demo("Purple elephants dance."), extractive_fallback=False)
    refused = strict.ask("Who planted the quince tree?")
    assert not refused.grounded and refused.notice is None  # ragd's refusal
    other = world.asker(ScriptedLLM("The lighthouse was first lit in 1867 [1].")).ask("When was the lighthouse lit?")
    assert other.grounded and other.notice is None
