"""Is the answer in the files at all? Evidence from retrieval, before any model is asked.

The question's content terms are weighted by how rare they are in the index (IDF, from the
lexical index): a question about a thing the files never mention has its rarest terms
missing from every passage. ``coverage`` is the IDF-weighted share of the question's terms
that the best passage contains; ``dense`` is the best sentence's similarity to the question.
Thresholds were set on squad_en / jsquad_ja with half of the articles held out as the
"not indexed" questions (bench/answer_quality.py reports the figures).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ragd.index.models import Hit
from ragd.index.store.catalog import Catalog
from ragd.index.tokenize import query_terms

_SUFFIXES = ("ies", "es", "s", "ed", "ing", "ly")
_LATIN = re.compile(r"[a-z]")


def stem(term: str) -> str:
    """A light English stemmer for overlap scoring (Japanese terms are already normalised by Sudachi)."""
    if not _LATIN.match(term) or len(term) <= 4:
        return term
    for suffix in _SUFFIXES:
        if term.endswith(suffix) and len(term) - len(suffix) >= 4:
            term = term[: -len(suffix)]
            break
    return term[:7]


def stems(text: str) -> set[str]:
    return {stem(t) for t in query_terms(text)}


@dataclass(frozen=True)
class Evidence:
    dense: float  # best sentence's cosine similarity (0 when unknown)
    per_hit: tuple[float, ...] = ()  # IDF-weighted share of the question's terms each passage contains
    terms_per_hit: tuple[frozenset[str], ...] = ()  # the question's terms each passage contains
    best: int = -1  # index of the passage with the best coverage, -1 if none

    @property
    def coverage(self) -> float:
        """The best passage's share of the question's terms."""
        return self.per_hit[self.best] if self.per_hit else 0.0


@dataclass(frozen=True)
class GroundingSettings:
    min_coverage: float = 0.5  # enough on its own
    weak_coverage: float = 0.3  # enough together with a close sentence match
    min_dense: float = 0.45


def supports(evidence: Evidence, settings: GroundingSettings) -> bool:
    """Whether the passages are likely to hold the answer (else the model is not asked)."""
    return evidence.coverage >= settings.min_coverage or (
        evidence.coverage >= settings.weak_coverage and evidence.dense >= settings.min_dense)


def assess(question: str, hits: Sequence[Hit], catalog: Catalog) -> Evidence:
    terms = query_terms(question)
    if not hits or not terms:
        return Evidence(0.0)
    total, df = catalog.document_frequencies(terms)
    weight = {t: math.log((total + 1) / (df.get(t, 0) + 0.5)) for t in terms}
    hit_stems = [stems(h.text + " " + " ".join(filter(None, (h.title, *h.heading)))) for h in hits]
    norm = sum(weight.values()) or 1.0
    found_terms = tuple(frozenset(t for t in terms if stem(t) in found) for found in hit_stems)
    per_hit = tuple(sum(weight[t] for t in found) / norm for found in found_terms)
    best = max(range(len(per_hit)), key=lambda i: (per_hit[i], -i))
    dense = max((h.dense for h in hits if h.dense is not None), default=0.0)
    return Evidence(dense, per_hit, found_terms, best)


def relevant(hits: Sequence[Hit], evidence: Evidence, share: float = 0.5) -> list[Hit]:
    """The passages worth showing a model: those covering at least ``share`` of what the best one covers, and
    those holding a question term the best one lacks (a question about two things). Small models are easily
    led astray by a passage about something else."""
    if not evidence.per_hit:
        return list(hits)
    floor = share * evidence.coverage
    best_terms = evidence.terms_per_hit[evidence.best]
    return [h for h, cov, found in zip(hits, evidence.per_hit, evidence.terms_per_hit, strict=True)
            if cov >= floor or found - best_terms]
