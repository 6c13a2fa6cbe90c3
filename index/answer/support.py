"""Does each sentence of an answer rest on the files? One verdict per sentence.

A sentence is compared with the source sentence that shares most of its content terms
(``cite.best_match``). Sharing terms is not enough: a small model copies a source sentence
and changes the year, adds a country, or drops a "not". So the details a reader would
check — numbers, names and negation — must also be in the source (the matched sentence,
its passage's title and headings, or the question the user asked):

- ``supported``: most of the sentence's content terms are in the source sentence and none of
  its details are missing;
- ``partly``: a good part of it is there, but not all: a detail is missing, or too few terms;
- ``unsupported``: the files do not hold it ("not found in your files").

The share and the details are plain text checks, cheap enough for every answer; see
``bench/support_quality.py`` for their precision and recall on hand-labelled sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ragd.index.answer import cite
from ragd.index.answer.details import details, known
from ragd.index.answer.models import Source

Verdict = Literal["supported", "partly", "unsupported"]
VERDICTS: tuple[Verdict, ...] = ("supported", "partly", "unsupported")
SUPPORTED_SHARE = 0.6  # share of a sentence's content terms its source sentence must hold (cite.MIN_SUPPORT)
PARTLY_SHARE = 0.34  # below this, nothing worth citing is in the files


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    share: float  # of the sentence's content terms found in its source sentence
    missing: tuple[str, ...] = field(default_factory=tuple)  # its details the source lacks, as written


def missing_details(sentence: str, source: str, context: str = "") -> list[str]:
    """The details of ``sentence`` that neither ``source`` nor ``context`` (titles, the question) hold."""
    claim = details(sentence)
    numbers, terms = known(f"{source}\n{context}")
    out = [n for n in sorted(claim.numbers) if n not in numbers]
    out += [written for name, written in claim.names if name not in terms]
    if claim.negated != details(source).negated:
        out.append("negation" if claim.negated else "the source's negation")
    return out


def judge(sentence: str, source: str | None, share: float, context: str = "") -> Judgement:
    """The verdict on ``sentence`` given its best source sentence (None: no source sentence matched)."""
    if source is None or share < PARTLY_SHARE:
        return Judgement("unsupported", share)
    missing = tuple(missing_details(sentence, source, context))
    verdict: Verdict = "supported" if share >= SUPPORTED_SHARE and not missing else "partly"
    return Judgement(verdict, share, missing)


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
        out.append((match, judge(match.claim, match.candidate.text, match.support, context)))
    return out
