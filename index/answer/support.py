"""Does each sentence of an answer rest on the files? One verdict per sentence.

A sentence is compared with the source sentence that shares most of its content terms
(``cite.best_match``). Sharing terms is not enough: a small model copies a source sentence
and changes the year, adds a country, drops a "not", or glues the question's words to an
invented ending ("Bedau notes that illegal protests may serve as a purpose of breaking the
law"). So a sentence is ``supported`` only when

- most of its content terms are in its source sentence (``SUPPORTED_SHARE``),
- what it adds to the question (its terms that the question does not hold) is in the cited
  passage (``NEW_TERMS_SHARE``), and
- its details, numbers, names and negation, are there too: the numbers and names in the
  passage, its title and headings, or the question; a "not" where the source sentence has one.

``partly``: a good part of it is there, but not all (``missing`` says what); ``unsupported``:
the files do not bear it out ("not found in your files"). The checks are plain text matching,
cheap on every answer; ``bench/support_quality.py`` measures them on hand-labelled sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ragd.index.answer import cite
from ragd.index.answer.details import Details, details, known
from ragd.index.answer.models import Source
from ragd.index.answer.terms import stem, stems
from ragd.index.chunk import CJK_CHAR
from ragd.index.tokenize import query_terms

Verdict = Literal["supported", "partly", "unsupported"]
VERDICTS: tuple[Verdict, ...] = ("supported", "partly", "unsupported")
SUPPORTED_SHARE = 0.6  # share of a sentence's content terms its source sentence must hold (cite.MIN_SUPPORT)
NEW_TERMS_SHARE = 0.8  # share of its terms beyond the question's that the passage must hold
PARTLY_SHARE = 0.34  # below this, nothing worth citing is in the files
# words about the answer itself, not about the world ("The answer to this question is: ...")
ANSWER_WORDS = frozenset(stem(w) for w in (
    "answer", "answers", "question", "questions", "correct", "source", "sources", "passage", "passages", "text",
    "following", "mentioned", "according", "provided", "given", "information", "回答", "答え", "質問", "文章"))
PREFIX = 6  # English words sharing their first six letters are taken as one (required / requirement)
NEGATION_AHEAD = re.compile(r"\b(?:not|never|no|n['’]t)\s+((?:\w+\s+){0,1}\w+)", re.IGNORECASE)
# what a model copies from the prompt's source headers ("(lines 62-62)") or a list ("2. "): not claims
_ECHOES = re.compile(r"\((?:p\. ?\d+,? ?)?lines? \d+(?:-\d+)?\)|^\s*\d{1,3}[.)]\s")


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    share: float  # of the sentence's content terms found in its source sentence
    missing: tuple[str, ...] = field(default_factory=tuple)  # what of it the source lacks, as written


def missing_details(sentence: str, source: str, context: str = "", passage: str = "") -> list[str]:
    """The details of ``sentence`` that the files do not hold: numbers and names missing from ``passage`` (the
    source sentence's passage; ``source`` itself when not given) and ``context`` (titles, the question), and a
    negation that ``source``, the source sentence, does not share."""
    claim = details(_ECHOES.sub(" ", sentence))
    numbers, terms = known(f"{passage or source}\n{context}")
    out = [n for n in sorted(claim.numbers) if n not in numbers]
    where = passage or source
    out += [written for name, written in claim.names if name not in terms and not _written_in(written, where)]
    said = details(source)
    if claim.negated and not said.negated:
        out.append("negation")
    elif not claim.negated and said.negated and _negates_what_the_claim_says(source, said, sentence):
        out.append("the source's negation")
    return out


def _negates_what_the_claim_says(source: str, said: Details, sentence: str) -> bool:
    """The (negated) source sentence negates a word that the (unnegated) claim states: "was not lifted" against
    "was lifted". A "not" elsewhere in a long source sentence ("would not grow large enough") is not the claim's."""
    claim = stems(sentence)
    for m in NEGATION_AHEAD.finditer(source):
        if stems(m.group(1)) & claim:
            return True
    return bool(said.negated_words & claim)  # Japanese negation follows the word it negates


def new_terms_missing(sentence: str, question: str, passage: str) -> tuple[float, list[str]]:
    """Of the terms ``sentence`` adds to ``question``: the share that ``passage`` holds, and those it lacks (as
    written). (1.0, []) when the sentence adds no term."""
    asked = stems(question) | ANSWER_WORDS
    written: dict[str, str] = {}
    for term in query_terms(_ECHOES.sub(" ", sentence)):
        written.setdefault(stem(term), term)
    new = {s: w for s, w in written.items() if s not in asked}
    if not new:
        return 1.0, []
    held = stems(passage)
    prefixes = {h[:PREFIX] for h in held if len(h) >= PREFIX}
    lacking = [w for s, w in new.items() if s not in held and not _written_in(w, passage)
               and not (len(s) >= PREFIX and s[:PREFIX] in prefixes)]
    return 1 - len(lacking) / len(new), lacking


def _written_in(term: str, text: str) -> bool:
    """A Japanese term found as written, where the analyser cut the passage's words otherwise (晴れ in 梅雨晴れ)."""
    return bool(CJK_CHAR.search(term)) and term in text


def judge(sentence: str, source: str | None, share: float, context: str = "", *, question: str = "",
          passage: str = "") -> Judgement:
    """The verdict on ``sentence`` given its best source sentence (None: no source sentence matched) and the
    passage that holds it."""
    if source is None or share < PARTLY_SHARE:
        return Judgement("unsupported", share)
    terms = stems(sentence)
    if terms and question:  # the question's own words count as borne out: the user stated them
        share = max(share, len(terms & (stems(source) | stems(question))) / len(terms))
    missing = missing_details(sentence, source, context, passage)
    new_share, lacking = new_terms_missing(sentence, question, f"{passage or source}\n{context}")
    if new_share < NEW_TERMS_SHARE:
        missing += [w for w in lacking if w not in missing]
    verdict: Verdict = "supported" if share >= SUPPORTED_SHARE and not missing else "partly"
    return Judgement(verdict, share, tuple(missing))


def judge_answer(text: str, sources: Sequence[Source], question: str) -> list[tuple[cite.Match, Judgement]]:
    """Every claim of the answer ``text`` with its best source sentence and the verdict on it (before the quote
    is verified in the file: ``Asker.judge`` does that)."""
    out: list[tuple[cite.Match, Judgement]] = []
    for match in cite.match_claims(text, sources, question):
        if match.candidate is None:
            out.append((match, Judgement("unsupported", 0.0)))
            continue
        hit = sources[match.candidate.n - 1].hit
        context = " ".join(filter(None, (question, hit.title, *hit.heading)))
        out.append((match, judge(match.claim, match.candidate.text, match.support, context, question=question,
                                 passage=hit.text)))
    return out
