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
  passage, its title and headings, or the question; a "not" where the source sentence has one;
  no Japanese word that is a source word miscopied by one character (``copies.garbled_words``);
  no number put before words copied from the source where the source puts another
  (``copies.number_of_another``); no qualifier of the source ("typically") left out of a copy
  around it (``copies.dropped_qualifiers``),
- a source header it copies is a citation, not a part of a claim, and the text it quotes under
  the header is the passage's own words, none changed and none left out (``header_misuse``), and
- if it gives the question's answer, its source is about the question (``answering.off_the_question``), and
- where it copies a clause of its source sentence, it says it of what the source does
  (``copies.said_of_another``).

A line that only names sources ("日本共産党.txt (lines 3-4)", "Sources:"), asks a question, or was cut off
before it said anything ("ナフサのエ"), states nothing, and is ``supported``; so are pronouns (これ, それ) in a
sentence.

``partly``: a good part of it is there, but not all (``missing`` says what); ``unsupported``:
the files do not bear it out ("not found in your files"). The checks are plain text matching,
cheap on every answer; ``bench/support_quality.py`` measures them on hand-labelled sentences. This module gives
the verdict; the checks that hold an answer to its question are in ``answering``, those that compare a copy with
its source in ``copies``, and the words and patterns they share in ``wording``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ragd.index.answer import cite
from ragd.index.answer.answering import ANSWER_IS, around, bare_answer, off_the_question
from ragd.index.answer.copies import (
    APPROXIMATE,
    dropped_qualifiers,
    garbled_words,
    left_out,
    list_made_possessive,
    number_of_another,
    replaced_in_copy,
    said_of_another,
    swapped_opposites,
)
from ragd.index.answer.details import Details, details, known, numbers_in
from ragd.index.answer.models import Source
from ragd.index.answer.terms import stem, stems
from ragd.index.answer.wording import (
    ANSWER_WORDS,
    CLAIMLESS_WORDS,
    ECHOES,
    JA_WORD,
    KANJI,
    LIST_ITEM,
    PLACE,
    QUOTED,
    REFERENCE_WORDS,
    SOURCE_WORDS,
)
from ragd.index.chunk import CJK_CHAR
from ragd.index.models import Hit
from ragd.index.tokenize import query_terms

Verdict = Literal["supported", "partly", "unsupported"]
VERDICTS: tuple[Verdict, ...] = ("supported", "partly", "unsupported")
SUPPORTED_SHARE = 0.65  # share of a sentence's content terms its source sentence must hold (cite.MIN_SUPPORT: 0.6)
NEW_TERMS_SHARE = 0.8  # share of its terms beyond the question's that the passage must hold
PARTLY_SHARE = 0.34  # below this, nothing worth citing is in the files
PREFIX = 6  # English words sharing their first six letters are taken as one (required / requirement)
NEGATION_AHEAD = re.compile(r"(?:\b(?:not|never|no)|n['’]t)\s+((?:\w+\s+){0,3}\w+)", re.IGNORECASE)
NEGATED_TERMS = 2  # content words after a "not" that it negates ("does not have a prohibition": prohibition)
_LINES = re.compile(r"\blines? (\d+)(?:-(\d+))?\)")  # the lines a place names
_CUT_PLACE = re.compile(r"\((?:p\. ?\d*,? ?)?(?:l(?:i(?:n(?:es?)?)?)?(?: \d+(?:-\d*)?)?)?$")  # "(line 1", "(lin"
_PLACE_OR_ITEM = re.compile(f"{PLACE}|{LIST_ITEM}", re.MULTILINE)
_HEADER_LINE = re.compile(f"^(.*?){PLACE}(.*)$", re.MULTILINE)  # a header's place, what is around it on its line
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]{3,}")  # a loanword or a foreign name: a detail, as a name is
# a Japanese question without "？": a question word, then "か" at its end ("…の名前は何か。", "いつ開業したか")
_JA_QUESTION = re.compile(r"(?:何|誰|どこ|いつ|どの|どう|どれ|なぜ|いくつ|いくら|どんな)[^。.、，,]{0,12}か[。.]?\s*$")
JA_QUESTION_LENGTH = 100  # characters: a looping answer cut off at "…を何というか" is no question
FRAGMENT = {"ja": 12, "en": 3}  # characters / words of a cut-off sentence that holds at most a name and a word begun
_WORD_BEGUN = re.compile(rf"(?:[{KANJI}]+|[\u30a0-\u30ff]+|[\u3040-\u309f]+|\d+|[A-Za-z]+)$")
_LABELLED = re.compile(r"[:：]\s*\S|^(?:answer|a)\b\s*[:\-–]?\s*\d|^(?:回答|答え)", re.IGNORECASE)  # "A: 4", "Answer 4"
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")
_APPROXIMATE_STEMS = frozenset(stem(w) for w in APPROXIMATE)
_COPULA = re.compile(r"\b(?:is|are|was|were)\b", re.IGNORECASE)
# words that relate a thing to itself ("a special case of", "a combination of", "itself")
RELATING_WORDS = frozenset(stem(w) for w in ("special", "case", "example", "type", "kind", "form", "part",
                                             "combination", "same", "version", "way", "itself", "fact",
                                             "particular", "instance"))


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    share: float  # of the sentence's content terms found in its source sentence
    missing: tuple[str, ...] = field(default_factory=tuple)  # what of it the source lacks, as written


def missing_details(sentence: str, source: str, context: str = "", passage: str = "") -> list[str]:
    """The details of ``sentence`` that the files do not hold: numbers missing from ``source`` (the source
    sentence), the sentences beside it in ``passage`` and ``context`` (titles, the question), names missing from
    ``passage`` and ``context``, a negation that ``source`` does not share (or one of its own that the sentence
    drops), a number the source puts elsewhere, and a qualifier of the source that a copy leaves out. A number found
    only further off in the passage was joined to the source sentence from another ("2008年9月25日は、2010年の第22回
    参議院議員通常選挙では…"); a name may be, where a pronoun stands for it in the source sentence."""
    claim = details(ECHOES.sub(" ", sentence))
    where = passage or source
    near = around(source, where) if source in where else where
    numbers = numbers_in(f"{near}\n{context}")
    _, terms = known(f"{where}\n{context}")  # a name may be said sentences before ("Einstein … He was born …")
    out = [n for n in sorted(claim.numbers) if n not in numbers]
    out += [written for name, written in claim.names if name not in terms and not _written_in(written, where)]
    out += [w for w in garbled_words(sentence, f"{where}\n{context}") if w not in out]
    out += [w for w in dict.fromkeys(_KATAKANA.findall(unicodedata.normalize("NFKC", sentence)))
            if w not in out and w not in unicodedata.normalize("NFKC", f"{where}\n{context}")]
    out += [n for n in number_of_another(sentence, source) if n not in out]
    out += [f"the source's {q}" for q in dropped_qualifiers(sentence, source)]
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
        negated = [stem(t) for t in query_terms(m.group(1))][:NEGATED_TERMS]  # in their order
        if set(negated) & claim:
            return True
    return bool(said.negated_words & claim)  # Japanese negation follows the word it negates


def new_terms_missing(sentence: str, question: str, passage: str) -> tuple[float, list[str]]:
    """Of the terms ``sentence`` adds to ``question``: the share that ``passage`` holds, and those it lacks (as
    written). (1.0, []) when the sentence adds no term."""
    asked = stems(question) | ANSWER_WORDS | SOURCE_WORDS | CLAIMLESS_WORDS  # "According to the source, …", "資料は、…"
    written: dict[str, str] = {}
    for term in query_terms(ECHOES.sub(" ", sentence)):
        written.setdefault(stem(term), term)
    new = {s: w for s, w in written.items() if s not in asked}
    if not new:
        return 1.0, []
    held = stems(passage)
    if APPROXIMATE & set(re.findall(r"[a-z]+", passage.lower())):  # "approximately $12" where it has "nearly $12"
        held |= _APPROXIMATE_STEMS
    prefixes = {h[:PREFIX] for h in held if len(h) >= PREFIX}
    numbers = details(passage).numbers  # "2" where the passage writes "two"
    lacking = [w for s, w in new.items() if s not in held and not _written_in(w, passage)
               and not (len(s) >= PREFIX and s[:PREFIX] in prefixes) and not (details(w).numbers & numbers)]
    return 1 - len(lacking) / len(new), lacking


def _written_in(term: str, text: str) -> bool:
    """A Japanese term found as written, where the analyser cut the passage's words otherwise (晴れ in 梅雨晴れ)."""
    return bool(CJK_CHAR.search(term)) and term in text


def header_misuse(sentence: str, source: str, passage: str = "", labels: Sequence[str] = ()) -> list[str]:
    """What is wrong with a source header that ``sentence`` copies (``labels``: the sources' names, "file.txt",
    "Title > Heading", before a place "(lines 3-4)" in the prompt). A header is a citation on a line of its
    own; words glued to it make a claim of a file name ("1992年に成立した平和維持活動.txt (lines 2-3)"). The text
    copied under it is presented as the passage's own words, from ``source`` on: a word not there is a misquote."""
    out: list[str] = []
    for m in _HEADER_LINE.finditer(sentence):
        before = re.sub(LIST_ITEM, "", m.group(1)).rstrip()
        label = max((x for x in labels if before.endswith(x)), key=len, default="")
        if (stems(before[: len(before) - len(label)]) | stems(m.group(2))) - REFERENCE_WORDS:
            out.append("file reference")
            break
    if quoted := QUOTED.search(sentence):
        start = passage.find(source)
        copied = passage[start:] if start >= 0 else source  # a copy may run on past the source sentence
        held = stems(copied)
        terms = list(dict.fromkeys(query_terms(quoted.group(1))))
        out += [t for i, t in enumerate(terms) if stem(t) not in held and not _written_in(t, copied)
                and not (i == len(terms) - 1 and any(h.startswith(t) for h in held))]  # cut off mid-word
        out += [f"the quote without “{w}”" for w in left_out(quoted.group(1), passage or source)]
    return out


def judge(sentence: str, source: str | None, share: float, context: str = "", *, question: str = "",
          passage: str = "", labels: Sequence[str] = (), about: str = "",
          lines: Sequence[tuple[int, int]] = (), at: tuple[int, int] | None = None) -> Judgement:
    """The verdict on ``sentence`` given its best source sentence (None: no source sentence matched), the
    passage that holds it, what that passage is about (its title and headings), the sources' headers
    (``labels``) and the lines of their files they come from (``lines``, and ``at`` for the passage that holds the
    source sentence, where known)."""
    if source is None or share < PARTLY_SHARE:
        return Judgement("unsupported", share)
    # "The answer to the question is: …" is not part of the claim, nor is a pronoun
    terms = stems(sentence) - ANSWER_WORDS - CLAIMLESS_WORDS
    if terms and question:  # the question's own words count as borne out: the user stated them
        share = max(share, len(terms & (stems(source) | stems(question))) / len(terms))
    missing = missing_details(sentence, source, context, passage)
    missing += [w for w in header_misuse(sentence, source, passage, labels) if w not in missing]
    missing += [w for w in places_not_given(sentence, lines) if w not in missing]
    missing += [w for w in quoted_from_elsewhere(sentence, at) if w not in missing]
    missing += [w for w in off_the_question(sentence, source, question, passage, about) if w not in missing]
    missing += [w for w in said_of_another(sentence, source) if w not in missing]
    missing += [w for w in replaced_in_copy(sentence, source) if w not in missing]
    missing += [w for w in swapped_opposites(sentence, source) if w not in missing]
    missing += [w for w in list_made_possessive(sentence, source) if w not in missing]
    new_share, lacking = new_terms_missing(sentence, question, f"{passage or source}\n{context}")
    if new_share < NEW_TERMS_SHARE:
        missing += [w for w in lacking if w not in missing]
    verdict: Verdict = "supported" if share >= SUPPORTED_SHARE and not missing else "partly"
    return Judgement(verdict, share, tuple(missing))


def _file_stem(path: str) -> str:
    """What a file without a title is called: its name without folders and extension ("日本共産党")."""
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("_", " ")


def places_not_given(sentence: str, lines: Sequence[tuple[int, int]]) -> list[str]:
    """The places ``sentence`` cites ("line 34") that no source is at, where the sources' ``lines`` are known:
    a citation of a place the model was not given."""
    out: list[str] = []
    for m in _LINES.finditer(sentence):
        first, last = (int(n[:10]) for n in (m.group(1), m.group(2) or m.group(1)))  # not a 5,000-digit int
        if lines and not any(start <= first <= last <= end for start, end in lines):
            out.append(m.group(0).rstrip(")"))
    return out


def quoted_from_elsewhere(sentence: str, at: tuple[int, int] | None) -> list[str]:
    """The place of the header that ``sentence`` copies a passage under ("Chloroplast (line 10)\nPhycobilins are
    …"), where the copied passage is at other lines (``at``: 44-44): the quote is credited to the wrong place."""
    quoted = QUOTED.search(sentence)  # the header line the quote is under, as ``header_misuse`` reads it
    if not (at and quoted):
        return []
    return places_not_given(sentence[quoted.start() : quoted.start(1)], [at])


def names_only_sources(sentence: str, labels: Sequence[str], lines: Sequence[tuple[int, int]] = ()) -> bool:
    """A sentence that only names sources, as the prompt's headers do ("日本共産党.txt (line 91)", "1. Apollo
    program > Background (lines 3-4)", "Sources:"): it says nothing about the world, so nothing in it can be
    unsupported. An answer given after "The answer is" is a claim, even where it is a source's title; so is a
    place that no source is at, where the sources' ``lines`` are known ("(line 34)" for passages at lines 3-9)."""
    if bare_answer(sentence) or places_not_given(sentence, lines):
        return False
    files = [label for label in labels if re.search(r"\.\w{1,5}$", label)]
    if not (_PLACE_OR_ITEM.search(sentence) or _CUT_PLACE.search(sentence) or stems(sentence) & REFERENCE_WORDS
            or any(f in sentence for f in files)):
        return False  # a title alone ("Apollo", "Apollo program.") may be an answer
    rest = _CUT_PLACE.sub(" ", ECHOES.sub(" ", sentence))
    for label in sorted(labels, key=len, reverse=True):
        rest = rest.replace(label, " ")
    cut = rest.split()[-1] if rest.split() else ""  # a label the answer stops in: "Comput"
    if len(cut) >= 3 and any(label.startswith(cut) for label in labels):
        rest = rest[: rest.rfind(cut)]
    return not stems(rest) - REFERENCE_WORDS


def asks(sentence: str) -> bool:
    """A question in an answer ("Question: What does chlorophyll absorb?", "…鉄道の名前は何か。") claims nothing."""
    return bool(re.search(r"[?？]\s*$", sentence)
                or (len(sentence) <= JA_QUESTION_LENGTH and _JA_QUESTION.search(sentence)))  # not a loop cut off


def restates_itself(sentence: str, texts: str) -> bool:
    """An English sentence that says its subject is (a form of) itself: "The traveling salesman problem is a special
    case of the traveling salesman problem", "The size of the input is the size of the input itself". It states
    nothing beyond its subject, so it holds when the subject's words are those of ``texts`` (the passages and the
    question); not with a negation ("These are the Turing machines that are not deterministic Turing machines").
    Japanese is left out: "XはXである" is how a small model gives X as an answer."""
    copula = _COPULA.search(sentence)
    if not copula or CJK_CHAR.search(sentence) or details(sentence).negated:  # "X are the X that are not Y"
        return False
    subject, rest = (stems(part) - RELATING_WORDS - ANSWER_WORDS
                     for part in (sentence[: copula.start()], sentence[copula.end() :]))
    return bool(subject and rest == subject and subject <= stems(texts))  # "X Y is a kind of Y" says something


def cut_before_a_claim(sentence: str, texts: str) -> bool:
    """A sentence the model was cut off in before it said anything ("マ", "ナフサのエ", "The Apollo 1"): short, with
    no sentence end, its last word begun as a word of ``texts`` (the passages and the question) begins (a number or
    an English word at that word's start), and the words before that in ``texts`` too. Like a one-character
    leftover, it states nothing. An answer however short ("The answer is 4", "A: 4", "回答：3") is a claim, and so is
    a negation ("ナフサは沸点がない")."""
    text = unicodedata.normalize("NFKC", ECHOES.sub(" ", sentence)).strip()
    if (not text or re.search(r"[。.!?]$", text) or ANSWER_IS.match(text) or _LABELLED.search(text)
            or details(text).negated):
        return False
    if len(re.sub(r"\s", "", text)) > FRAGMENT["ja"] if CJK_CHAR.search(text) else len(text.split()) > FRAGMENT["en"]:
        return False
    texts = unicodedata.normalize("NFKC", texts)
    body = text.rstrip("、,:： ")
    begun = _WORD_BEGUN.search(body)
    if begun and not _HIRAGANA.fullmatch(begun.group(0)):  # hiragana: a particle or an ending, begun or not
        word = begun.group(0)
        lead = r"(?<!\d)" if word.isdigit() else r"(?<![A-Za-z])" if word.isascii() else ""
        if not re.search(lead + re.escape(word), texts, re.IGNORECASE):
            return False
    before = body[: begun.start()] if begun else body
    return (all(w in texts or w in REFERENCE_WORDS for w in JA_WORD.findall(before))
            and not stems(before) - stems(texts) - REFERENCE_WORDS - CLAIMLESS_WORDS)


def _holding_the_number(claim: str, sources: Sequence[Source], question: str) -> cite.Candidate | None:
    """For a bare answer that is only a number ("The answer is: 2.", which shares no word with a passage that
    writes "two men"): the source sentence holding that number with the most of the question's terms."""
    given = details(claim).numbers
    if not (bare_answer(claim) and given) or stems(ANSWER_IS.sub("", claim)) - given:
        return None
    asked = stems(question)
    holding = [c for c in cite.candidates(sources) if given <= details(c.text).numbers]
    return max(holding, key=lambda c: len(asked & c.stems), default=None)


def _lines_of(hit: Hit) -> tuple[int, int] | None:
    """The lines of its file a passage comes from, where known."""
    return None if hit.line_start is None else (hit.line_start, hit.line_end or hit.line_start)


def judge_answer(text: str, sources: Sequence[Source], question: str) -> list[tuple[cite.Match, Judgement]]:
    """Every claim of the answer ``text`` with its best source sentence and the verdict on it (before the quote
    is verified in the file: ``Asker.judge`` does that)."""
    out: list[tuple[cite.Match, Judgement]] = []
    labels = [name for s in sources for name in (  # as the prompt names them (``prompt.source_block``), or so
        " > ".join(t for t in (s.hit.title, *s.hit.heading) if t), s.hit.path.rsplit("/", 1)[-1], s.hit.title or "")
        if name]
    lines = [at for s in sources if (at := _lines_of(s.hit))]
    matches = cite.match_claims(text, sources, question)
    texts = "\n".join([*(s.hit.text for s in sources), question])
    last = max((m.end for m in matches), default=0)
    for match in matches:
        if (asks(match.claim) or names_only_sources(match.claim, labels, lines)
                or (match.end == last and cut_before_a_claim(match.claim, texts))
                or restates_itself(match.claim, texts)):  # nothing to cite or verify
            out.append((cite.Match(match.claim, None, 1.0, match.start, match.end), Judgement("supported", 1.0)))
            continue
        if match.candidate is None and (held := _holding_the_number(match.claim, sources, question)):
            match = cite.Match(match.claim, held, 1.0, match.start, match.end)
        if match.candidate is None:
            out.append((match, Judgement("unsupported", 0.0)))
            continue
        hit = sources[match.candidate.n - 1].hit
        about = " ".join(filter(None, (hit.title or _file_stem(hit.path), *hit.heading)))
        out.append((match, judge(match.claim, match.candidate.text, match.support, f"{question} {about}",
                                 question=question, passage=hit.text, labels=labels, about=about, lines=lines,
                                 at=_lines_of(hit))))
    return out
