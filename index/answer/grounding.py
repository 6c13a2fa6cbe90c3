"""Is the answer in the files at all? Evidence from retrieval, before any model is asked.

The question's content terms are weighted by how rare they are in the index (IDF, from the
lexical index): a question about a thing the files never mention has its rarest terms
missing from every passage. ``coverage`` is the IDF-weighted share of the question's terms
that the best passage contains; ``dense`` is the best sentence's similarity to the question.

Thresholds are per language of the question, chosen on squad_en / jsquad_ja with half of the
articles indexed and questions about the other half as near misses (``bench.refusal`` reports both
halves). English questions are told apart well by the dense similarity (MiniLM's); Japanese ones
get USE's alone, which is weaker, so there a proper noun of the question that the index has never
seen (a place, a person, an organisation the files do not mention) refuses the question too, and so
do two of its words that the index has never seen, unless a sentence is close to the question.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragd.index.answer.details import names
from ragd.index.answer.terms import stem, stems
from ragd.index.models import Hit
from ragd.index.store.catalog import Catalog
from ragd.index.tokenize import query_terms


@dataclass(frozen=True)
class Evidence:
    dense: float | None  # best sentence's cosine similarity (None when unknown: lexical search only)
    per_hit: tuple[float, ...] = ()  # IDF-weighted share of the question's terms each passage contains
    terms_per_hit: tuple[frozenset[str], ...] = ()  # the question's terms each passage contains
    best: int = -1  # index of the passage with the best coverage, -1 if none
    unknown_names: frozenset[str] = field(default_factory=frozenset)  # the question's names no chunk holds
    unknown_terms: int = 0  # the question's words (not numbers) that no chunk of the index holds

    @property
    def coverage(self) -> float:
        """The best passage's share of the question's terms."""
        return self.per_hit[self.best] if self.per_hit else 0.0


@dataclass(frozen=True)
class GroundingSettings:
    min_coverage: float = 0.5  # enough on its own
    weak_coverage: float = 0.3  # enough together with a close sentence match
    min_dense: float = 0.4
    dense_floor: float = 0.3  # below this the passages are about something else, whatever terms they share
    refuse_unknown_names: bool = False  # a name of the question that no chunk holds means "not in the files"
    # so do this many words of the question that the index has never seen (0: off), unless a sentence is as
    # close to the question as ``unknown_terms_dense``
    refuse_unknown_terms: int = 0
    unknown_terms_dense: float = 0.55


# Chosen with bench/refusal.py on one half of the articles, checked on the other (see the README).
BY_LANGUAGE = {
    "en": GroundingSettings(),
    "ja": GroundingSettings(min_dense=0.5, dense_floor=0.2, refuse_unknown_names=True, refuse_unknown_terms=2),
}


def supports(evidence: Evidence, settings: GroundingSettings) -> bool:
    """Whether the passages are likely to hold the answer (else the model is not asked)."""
    if settings.refuse_unknown_names and evidence.unknown_names:
        return False
    dense = evidence.dense
    if (settings.refuse_unknown_terms and evidence.unknown_terms >= settings.refuse_unknown_terms
            and (dense is None or dense < settings.unknown_terms_dense)):
        return False
    if dense is None:  # no similarities (the vector side is down, or a lexical search): terms alone decide
        return evidence.coverage >= settings.min_coverage
    if dense < settings.dense_floor:
        return False
    return evidence.coverage >= settings.min_coverage or (
        evidence.coverage >= settings.weak_coverage and dense >= settings.min_dense)


def assess(question: str, hits: Sequence[Hit], catalog: Catalog) -> Evidence:
    terms = query_terms(question)
    if not hits or not terms:
        return Evidence(None)
    total, df = catalog.document_frequencies(terms)
    weight = {t: math.log((total + 1) / (df.get(t, 0) + 0.5)) for t in terms}
    hit_stems = [stems(h.text + " " + " ".join(filter(None, (h.title, *h.heading)))) for h in hits]
    norm = sum(weight.values()) or 1.0
    found_terms = tuple(frozenset(t for t in terms if stem(t) in found) for found in hit_stems)
    per_hit = tuple(sum(weight[t] for t in found) / norm for found in found_terms)
    best = max(range(len(per_hit)), key=lambda i: (per_hit[i], -i))
    dense = max((h.dense for h in hits if h.dense is not None), default=None)
    stemmed = {stem(t): t for t in terms} | {t: t for t in terms}
    unknown = frozenset(n for n in names(question) if n in stemmed and df.get(stemmed[n], 0) == 0)
    unseen = sum(1 for t in terms if df.get(t, 0) == 0 and not t.isdigit())
    return Evidence(dense, per_hit, found_terms, best, unknown, unseen)


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
