"""Citations attached by ragd, whether or not the model wrote ``[n]`` markers.

Each claim (sentence) of the answer is matched to the source sentence that shares most of
its content terms; a ``[n]`` marker in the claim breaks ties towards that source, and the
question's terms break the rest. The match's sentence becomes the quote, to be verified
against the file (``verify``) before it is shown, and ``support`` judges how much of the
claim it bears out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ragd.index.answer.models import Source
from ragd.index.answer.terms import stems
from ragd.index.sentences import sentence_spans

MARKER = re.compile(r"\s*\[(\d{1,3})(?:\s*[,，、]\s*\d{1,3})*\]")
_MARKER_NUMS = re.compile(r"\d{1,3}")
MIN_SUPPORT = 0.6  # share of a claim's content terms that its quote must contain
MAX_QUOTE_CHARS = 400


@dataclass(frozen=True)
class Candidate:
    n: int
    text: str
    stems: frozenset[str]


@dataclass(frozen=True)
class Claim:
    text: str  # the sentence without its markers
    cited: frozenset[int]  # the source numbers its markers name
    start: int  # the sentence's place in the answer text
    end: int


@dataclass(frozen=True)
class Match:
    claim: str
    candidate: Candidate | None  # None: no source sentence shares a term with it
    support: float  # share of the claim's content terms the candidate holds
    start: int = 0
    end: int = 0


def paragraphs(text: str) -> list[list[str]]:
    """The sentences of each block of ``text`` (blocks are split first: a quote never spans two)."""
    return [[block[start:end].strip() for start, end in sentence_spans(block)]
            for block in re.split(r"\n\s*\n", text)]


def candidates(sources: Sequence[Source]) -> list[Candidate]:
    """Every sentence of every source that has content terms."""
    out: list[Candidate] = []
    for source in sources:
        for sentences in paragraphs(source.hit.text):
            for text in sentences:
                terms = stems(text)
                if terms:
                    out.append(Candidate(source.n, text, frozenset(terms)))
    return out


def claims(answer: str) -> list[Claim]:
    """The answer's sentences that say something (content terms), each with the source numbers it cites."""
    out: list[Claim] = []
    for start, end in sentence_spans(answer):
        sentence = answer[start:end]
        cited = frozenset(int(n) for m in MARKER.finditer(sentence) for n in _MARKER_NUMS.findall(m.group(0)))
        text = MARKER.sub("", sentence).strip()
        if stems(text):
            out.append(Claim(text, cited, start, end))
    return out


def best_match(claim: str, cited: set[int] | frozenset[int], pool: Sequence[Candidate],
               question_stems: set[str], min_support: float = MIN_SUPPORT) -> Match | None:
    """The source sentence holding most of the claim's terms, if it holds at least ``min_support`` of them."""
    claim_stems = stems(claim)
    if not claim_stems:
        return None
    best: tuple[float, float, float, Candidate] | None = None
    for cand in pool:
        support = len(claim_stems & cand.stems) / len(claim_stems)
        key = (support, 1.0 if cand.n in cited else 0.0, len(question_stems & cand.stems) / (len(cand.stems) ** 0.5),
               cand)
        if best is None or key[:3] > best[:3]:
            best = key
    if best is None or best[0] < min_support or best[0] == 0:
        return None
    return Match(claim, best[3], best[0])


def quote_of(sentence: str) -> str:
    """The sentence, or its first MAX_QUOTE_CHARS cut at a space: always a verbatim substring."""
    if len(sentence) <= MAX_QUOTE_CHARS:
        return sentence
    cut = sentence.rfind(" ", 0, MAX_QUOTE_CHARS)
    return sentence[: cut if cut > MAX_QUOTE_CHARS // 2 else MAX_QUOTE_CHARS]


def match_claims(answer: str, sources: Sequence[Source], question: str) -> list[Match]:
    """Every claim of the answer with its best source sentence (``candidate`` None when nothing matches)."""
    pool = candidates(sources)
    q = stems(question)
    matches = []
    for claim in claims(answer):
        m = best_match(claim.text, claim.cited, pool, q, min_support=0.0)
        matches.append(Match(claim.text, m.candidate if m else None, m.support if m else 0.0, claim.start, claim.end))
    return matches


def best_passage(question: str, sources: Sequence[Source]) -> Candidate | None:
    """The source sentence sharing most of the question's terms (for an extractive answer)."""
    q = stems(question)
    pool = candidates(sources)
    if not q or not pool:
        return None
    scored = max(pool, key=lambda c: (len(q & c.stems) / len(q), -c.n))
    return scored if q & scored.stems else None
