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

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from ragd.index.answer.grounding import stem, stems
from ragd.index.tokenize import japanese_details

Verdict = Literal["supported", "partly", "unsupported"]
VERDICTS: tuple[Verdict, ...] = ("supported", "partly", "unsupported")
SUPPORTED_SHARE = 0.6  # share of a sentence's content terms its source sentence must hold (cite.MIN_SUPPORT)
PARTLY_SHARE = 0.34  # below this, nothing worth citing is in the files

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _words(text: str) -> list[str]:
    return text.split()


_CARDINALS = _words("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                    "sixteen seventeen eighteen nineteen twenty")
_ORDINALS = _words("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
                   "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_CARDINALS)} | {w: str(i) for i, w in enumerate(_ORDINALS) if i}
_POSSESSIVE = re.compile(r"['’]s?$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d+(?:[.,]\d+)*")
_NAME = re.compile(r"^(?:[A-Z][a-z]*[A-Z]+[a-z]*|[A-Z]{2,}s?|[A-Z][a-z'’\-]+)$")  # iPhone-ish, OPEC, Paris
_EN_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot|without|nothing|nobody)\b|n['’]t\b",
                          re.IGNORECASE)
# Capitalised words that name nothing: sentence openers, pronouns, months are kept (they are dates).
_NOT_NAMES = frozenset(_words(
    "i a an the this that these those it its he she they we you his her their our your there here however "
    "although though but and or so if when while after before during in on at by for from with as of to "
    "also many most some several all both each other another one such yes no not"))


_LINKS = frozenset({"of", "and", "for", "the", "de", "du", "des", "la", "le", "von", "van", "&"})


@dataclass(frozen=True)
class Details:
    numbers: frozenset[str] = frozenset()
    names: tuple[tuple[str, str], ...] = ()  # (stem in lower case, as written)
    negated: bool = False


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    share: float  # of the sentence's content terms found in its source sentence
    missing: tuple[str, ...] = field(default_factory=tuple)  # its details the source lacks, as written


def _numbers(text: str) -> set[str]:
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[w])
    return found


def details(text: str) -> Details:
    """The numbers, names and negation of ``text`` (English and Japanese)."""
    text = unicodedata.normalize("NFKC", text)
    words = _WORD.findall(text)
    names = {stem(_POSSESSIVE.sub("", w).lower()): _POSSESSIVE.sub("", w) for i, w in enumerate(words)
             if _NAME.match(w) and w.lower() not in _NOT_NAMES and (i > 0 or w.isupper())}
    ja_names, ja_negated = japanese_details(text)
    names |= {n: n for n in ja_names}
    return Details(frozenset(_numbers(text)), tuple(sorted(names.items())),
                   bool(_EN_NEGATION.search(text)) or ja_negated)


def _acronyms(words: list[str]) -> set[str]:
    """Initials of runs of capitalised words ("Organization of Arab Petroleum Exporting Countries" → oapec)."""
    out: set[str] = set()
    for i, first in enumerate(words):
        if not first[:1].isupper():
            continue
        initials = ""
        for w in words[i : i + 10]:
            if w[:1].isupper():
                initials += w[0].lower()
                if len(initials) >= 2:
                    out.add(initials)
            elif w.lower() not in _LINKS:
                break
            else:
                out.add(initials + w[0])  # "OoT"-style acronyms that keep the small word
    return out


def _known(text: str) -> tuple[set[str], set[str]]:
    """The numbers and the name-like terms a source text holds (any word, capitalised or not)."""
    text = unicodedata.normalize("NFKC", text)
    ja_names, _ = japanese_details(text)
    words = _WORD.findall(text)
    return _numbers(text), stems(text) | ja_names | {stem(w.lower()) for w in words} | _acronyms(words)


def missing_details(sentence: str, source: str, context: str = "") -> list[str]:
    """The details of ``sentence`` that neither ``source`` nor ``context`` (titles, the question) hold."""
    claim = details(sentence)
    numbers, terms = _known(f"{source}\n{context}")
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
