"""The evidence check that decides whether the model is asked: per-language thresholds, the dense floor, and
names the index has never seen."""

from __future__ import annotations

from ragd.index.answer import grounding
from ragd.index.answer.grounding import BY_LANGUAGE, Evidence, GroundingSettings, supports
from ragd.index.models import Hit


def ev(coverage: float, dense: float | None, unknown: frozenset[str] = frozenset()) -> Evidence:
    return Evidence(dense, (coverage,), (frozenset(),), 0, unknown)


def test_enough_terms_or_some_terms_and_a_close_sentence():
    en = BY_LANGUAGE["en"]
    assert supports(ev(0.6, 0.35), en)
    assert supports(ev(0.35, 0.5), en) and not supports(ev(0.35, 0.35), en)
    assert not supports(ev(0.2, 0.9), en)


def test_passages_about_something_else_are_refused_whatever_terms_they_share():
    en = BY_LANGUAGE["en"]
    assert not supports(ev(1.0, en.dense_floor - 0.01), en)


def test_without_similarities_the_terms_alone_decide():
    """The vector side may be down (the daemon searches lexically while it rebuilds): no dense floor then."""
    assert supports(ev(0.6, None), BY_LANGUAGE["en"]) and not supports(ev(0.4, None), BY_LANGUAGE["en"])


def test_a_name_the_index_never_saw_refuses_a_japanese_question():
    ja = BY_LANGUAGE["ja"]
    assert supports(ev(0.8, 0.6), ja)
    assert not supports(ev(0.8, 0.6, frozenset({"ラオス"})), ja)
    assert supports(ev(0.8, 0.6, frozenset({"laos"})), GroundingSettings())  # English: not by itself


class Frequencies:
    """The catalog's document frequencies (the only part of it ``assess`` reads)."""

    def __init__(self, df: dict[str, int], total: int = 100) -> None:
        self.df, self.total = df, total

    def document_frequencies(self, terms):
        return self.total, {t: self.df.get(t, 0) for t in terms}


def test_assess_finds_the_unknown_names_of_a_question():
    hit = Hit(chunk_id="a", path="/x", text="ラオスではなく、小石川の図書館は火曜日に休館する。", score=1.0, page=None,
              line_start=1, line_end=1, dense=0.7)
    known = grounding.assess("小石川の図書館は何曜日に休館しますか？", [hit], Frequencies({"小石川": 1, "図書": 3}))
    assert known.unknown_names == frozenset() and known.dense == 0.7
    unknown = grounding.assess("ビエンチャンの図書館は何曜日に休館しますか？", [hit], Frequencies({"図書": 3}))
    assert "ビエンチャン" in unknown.unknown_names
    english = grounding.assess("When did Skerry Point light its lamp?", [hit], Frequencies({"lamp": 2}))
    assert english.unknown_names == {"skerry", "point"}


def test_two_words_the_index_never_saw_refuse_a_japanese_question_unless_a_sentence_is_close():
    ja = BY_LANGUAGE["ja"]
    assert supports(Evidence(0.5, (0.8,), (frozenset(),), 0, frozenset(), unknown_terms=1), ja)
    assert not supports(Evidence(0.5, (0.8,), (frozenset(),), 0, frozenset(), unknown_terms=2), ja)
    assert supports(Evidence(0.6, (0.8,), (frozenset(),), 0, frozenset(), unknown_terms=2), ja)  # a close sentence
    assert supports(Evidence(0.5, (0.8,), (frozenset(),), 0, frozenset(), unknown_terms=2), BY_LANGUAGE["en"])
    hit = Hit(chunk_id="a", path="/x", text="小石川の図書館は火曜日に休館する。", score=1.0, page=None, line_start=1,
              line_end=1, dense=0.5)
    known = Frequencies({"小石川": 1, "図書": 3, "館": 3})
    counted = grounding.assess("小石川の図書館の略称と綱領は何か", [hit], known)
    assert counted.unknown_terms >= 2
    assert grounding.assess("2031年の図書館", [hit], Frequencies({"図書": 3, "館": 3, "年": 5})).unknown_terms == 0
