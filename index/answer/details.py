"""The details of a sentence a reader would check: its numbers, its names, whether it is negated.

English names are capitalised words (not at a sentence's start unless in capitals: "OPEC"); Japanese
ones are Sudachi's proper nouns (固有名詞). Numbers include English number words up to twenty.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from ragd.index.answer.terms import stem, stems
from ragd.index.tokenize import japanese_details

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _words(text: str) -> list[str]:
    return text.split()


# "one", "first" and "second" are left out: they are more often not numbers ("one of the", "at first")
_CARDINALS = _words("zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                    "sixteen seventeen eighteen nineteen twenty")
_ORDINALS = _words("zeroth _ _ third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
                   "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth")
_NUMBER_WORDS = {w: str(i) for words in (_CARDINALS, _ORDINALS) for i, w in enumerate(words) if i and w != "_"}
_POSSESSIVE = re.compile(r"['’]s?$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d+(?:[.,]\d+)*")
_NAME = re.compile(r"^(?:[A-Z][a-z]*[A-Z]+[a-z]*|[A-Z]{2,}s?|[A-Z][a-z'’\-]+)$")  # iPhone-ish, OPEC, Paris
_EN_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|cannot|without|nothing|nobody)\b|n['’]t\b",
                          re.IGNORECASE)
# "whether or not", "yes or no" (an answer's kind), "No. 5"
_NOT_NEGATION = re.compile(r"\bnot only\b|\bor not\b|\byes or no\b|\bno\.\s*\d", re.IGNORECASE)
_PLURAL_ACRONYM = re.compile(r"^([A-Z]{2,})s$")
# Capitalised words that name nothing: sentence openers, pronouns, months are kept (they are dates).
_NOT_NAMES = frozenset(_words(
    "i a an the this that these those it its he she they we you his her their our your there here however "
    "although though but and or so if when while after before during in on at by for from with as of to "
    "also many most some several all both each other another one such yes no not what which who whom whose "
    "why how where is are was were do does did can could will would should has have had may might must then "
    "thus therefore because since until unless instead yet still even only just"))


_LINKS = frozenset({"of", "and", "for", "the", "de", "du", "des", "la", "le", "von", "van", "&"})


@dataclass(frozen=True)
class Details:
    numbers: frozenset[str] = frozenset()
    names: tuple[tuple[str, str], ...] = ()  # (stem in lower case, as written)
    negated: bool = False
    negated_words: frozenset[str] = frozenset()  # Japanese: the words its negations negate


def _numbers(text: str) -> set[str]:
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    for w in re.findall(r"[a-z]+", text.lower()):
        if w in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[w])
    return found


@functools.lru_cache(maxsize=256)  # an answer's sentences are checked against the same few source texts
def details(text: str) -> Details:
    """The numbers, names and negation of ``text`` (English and Japanese)."""
    text = unicodedata.normalize("NFKC", text)
    words = _WORD.findall(text)
    names: dict[str, str] = {}
    for w in words:
        if _NAME.match(w) and w.lower() not in _NOT_NAMES:
            written = _PLURAL_ACRONYM.sub(r"\1", _POSSESSIVE.sub("", w))
            names[stem(written.lower())] = written
    ja = japanese_details(text)
    names |= {n: n for n in ja.names}
    negated = bool(_EN_NEGATION.search(_NOT_NEGATION.sub(" ", text))) or ja.negated
    return Details(frozenset(_numbers(text)), tuple(sorted(names.items())), negated, ja.negated_words)


def spellings(number: str) -> list[str]:
    """How a text may write ``number``: "7" and "seven", "seventh"."""
    grouped = [f"{int(number):,}"] if number.isdigit() and len(number) > 3 else []  # "40,000"
    return [number, *grouped, *(w for w, n in _NUMBER_WORDS.items() if n == number)]


def _acronyms(words: list[str]) -> set[str]:
    """Initials of runs of capitalised words ("Organization of Arab Petroleum Exporting Countries" → oapec)."""
    out: set[str] = set()
    for i, first in enumerate(words):
        if not first[:1].isupper():
            continue
        spellings = {""}  # with and without the small words' letters ("BoA" and "BA" for "Bank of America")
        for w in words[i : i + 10]:
            if w[:1].isupper():
                spellings = {s + w[0].lower() for s in spellings}
                out.update(s for s in spellings if len(s) >= 2)
            elif w.lower() not in _LINKS:
                break
            else:
                spellings |= {s + w[0].lower() for s in spellings}
    return out


@functools.lru_cache(maxsize=64)  # the same passage backs several sentences of an answer
def known(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The numbers and the name-like terms a source text holds (any word, capitalised or not)."""
    text = unicodedata.normalize("NFKC", text)
    words = _WORD.findall(text)
    terms = stems(text) | japanese_details(text).names | {stem(w.lower()) for w in words} | _acronyms(words)
    terms |= {m.group(1).lower() for w in words if (m := _PLURAL_ACRONYM.match(w))}  # "CCM" where it says "CCMs"
    return numbers_in(text), frozenset(terms)


def numbers_in(text: str) -> frozenset[str]:
    """The numbers a source text holds, as ``known`` gives them, without reading its words for names."""
    return frozenset(_numbers(unicodedata.normalize("NFKC", text)))


def names(text: str) -> set[str]:
    """The stems of the names in ``text`` (as ``stems`` and the lexical index's terms spell them)."""
    return {name for name, _ in details(text).names}
