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
  no Japanese word that is a source word miscopied by one character (``garbled_words``); no
  number put before words copied from the source where the source puts another (``number_of_another``);
  no qualifier of the source ("typically") left out of a copy around it (``dropped_qualifiers``),
- a source header it copies is a citation, not a part of a claim, and the text it quotes under
  the header is the passage's own words, none changed and none left out (``header_misuse``), and
- if it gives the question's answer, its source is about the question (``off_the_question``), and
- where it copies a clause of its source sentence, it says it of what the source does (``said_of_another``).

A line that only names sources ("日本共産党.txt (lines 3-4)", "Sources:"), asks a question, or was cut off
before it said anything ("ナフサのエ"), states nothing, and is ``supported``; so are pronouns (これ, それ) in a
sentence.

``partly``: a good part of it is there, but not all (``missing`` says what); ``unsupported``:
the files do not bear it out ("not found in your files"). The checks are plain text matching,
cheap on every answer; ``bench/support_quality.py`` measures them on hand-labelled sentences.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import pairwise
from typing import Literal

from ragd.index.answer import cite
from ragd.index.answer.details import Details, details, known, spellings
from ragd.index.answer.models import Source
from ragd.index.answer.terms import stem, stems
from ragd.index.chunk import CJK_CHAR
from ragd.index.tokenize import query_terms

Verdict = Literal["supported", "partly", "unsupported"]
VERDICTS: tuple[Verdict, ...] = ("supported", "partly", "unsupported")
SUPPORTED_SHARE = 0.65  # share of a sentence's content terms its source sentence must hold (cite.MIN_SUPPORT: 0.6)
NEW_TERMS_SHARE = 0.8  # share of its terms beyond the question's that the passage must hold
PARTLY_SHARE = 0.34  # below this, nothing worth citing is in the files
ON_QUESTION_SHARE = 0.5  # share of the question's terms that the passage around an answer's source must hold
ECHOED_QUESTION = "anything beyond the question"  # what a bare answer made of the question's own words lacks
# words about the answer itself, not about the world ("The answer to this question is: ...")
ANSWER_WORDS = frozenset(stem(w) for w in (
    "answer", "answers", "question", "questions", "correct", "source", "sources", "passage", "passages", "text",
    "following", "mentioned", "according", "provided", "given", "information", "回答", "答え", "質問", "文章"))
# Japanese words that stand for what is said elsewhere or ask for something, as Sudachi writes them (これ → 此れ,
# それら → 其れ 等, ください → 下さる): never a detail that the files must hold
CLAIMLESS_WORDS = frozenset(("此れ", "其れ", "彼れ", "此の", "其の", "彼の", "此処", "其処", "等", "そのまま", "下さる",
                             "御"))
PREFIX = 6  # English words sharing their first six letters are taken as one (required / requirement)
NEGATION_AHEAD = re.compile(r"(?:\b(?:not|never|no)|n['’]t)\s+((?:\w+\s+){0,3}\w+)", re.IGNORECASE)
NEGATED_TERMS = 2  # content words after a "not" that it negates ("does not have a prohibition": prohibition)
# what a model copies from the prompt's source headers ("(lines 62-62)") or a list ("2. "): not claims
_PLACE = r"\((?:p\. ?\d+,? ?)?lines? \d+(?:-\d+)?\)"
_LIST_ITEM = r"^\s*\d{1,3}[.)]\s"
_LINES = re.compile(r"\blines? (\d+)(?:-(\d+))?\)")  # the lines a place names
_CUT_PLACE = re.compile(r"\((?:p\. ?\d*,? ?)?(?:l(?:i(?:n(?:es?)?)?)?(?: \d+(?:-\d*)?)?)?$")  # "(line 1", "(lin"
_ECHOES = re.compile(f"{_PLACE}|{_LIST_ITEM}")
_PLACE_OR_ITEM = re.compile(f"{_PLACE}|{_LIST_ITEM}", re.MULTILINE)
_HEADER_LINE = re.compile(f"^(.*?){_PLACE}(.*)$", re.MULTILINE)  # a header's place, what is around it on its line
_QUOTED = re.compile(f"{_PLACE}[ \t]*\n(.+)", re.DOTALL)  # a header line, then the passage as copied
_JA_WORD = re.compile(r"[\u3005\u4e00-\u9fff]+(?:・[\u3005\u4e00-\u9fff]+)*|[\u30a0-\u30ff]+")  # kanji, katakana
# "The answer is: 40,000", "The correct answer to this question is", "答えは": what follows is the answer
_ANSWER_IS = re.compile(r"^\s*(?:(?:the\s+)?(?:correct\s+)?answer\b[^:.]{0,80}?(?:\bis\b|\bwas\b|:)"
                        r"|(?:答え|回答)は[、,:：]?)", re.IGNORECASE)
_CLAUSE_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|can|could|will|would|does|did|may|might)\b",
                          re.IGNORECASE)
_COUNTED = re.compile(r"\d+[回年月日人件個名歳時分秒円倍位番号代期]")  # a counter is not part of the next word
_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]{3,}")  # a loanword or a foreign name: a detail, as a name is
# a number and the (up to eight) words after it ("43 million tons of dust are windblown"), or a number written
# before Japanese ("1955年の第7回党大会")
_NUMBER_BEFORE_WORDS = re.compile(r"(?<![0-9A-Za-z.,万億兆千百十])(\d+(?:[.,]\d+)*)"
                                  r"(?:\s+((?:[A-Za-z]+\s+){2,7}[A-Za-z]+)|(?=[\u3040-\u30ff\u3005\u4e00-\u9fff(（]))")
JA_COPIED_AFTER = 10  # characters after a number in Japanese that may be copied from the source
QUALIFIERS = ("typically", "often", "sometimes", "usually", "generally", "perhaps", "possibly", "probably",
              "significantly", "largely", "mostly", "mainly", "partly", "partially", "nearly", "almost",
              "approximately", "roughly", "estimated", "reportedly", "occasionally", "rarely")
MODALS = ("may", "might")  # in lower case only: "in May 2010" is a month
_QUALIFIED = re.compile(rf"(?=\b(\w+)\s+((?i:{'|'.join(QUALIFIERS)})|{'|'.join(MODALS)})\s+(\w+)\b)")  # overlapping
# a Japanese question without "？": a question word, then "か" at its end ("…の名前は何か。", "いつ開業したか")
_JA_QUESTION = re.compile(r"(?:何|誰|どこ|いつ|どの|どう|どれ|なぜ|いくつ|いくら|どんな)[^。.、，,]{0,12}か[。.]?\s*$")
JA_QUESTION_LENGTH = 100  # characters: a looping answer cut off at "…を何というか" is no question
FRAGMENT = {"ja": 12, "en": 3}  # characters / words of a cut-off sentence that holds at most a name and a word begun
_WORD_BEGUN = re.compile(r"(?:[\u3005\u4e00-\u9fff]+|[\u30a0-\u30ff]+|[\u3040-\u309f]+|\d+|[A-Za-z]+)$")
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")
_CLAUSE_END = re.compile(r"[、,;；:：。]|\s[-–—]\s")
_KANJI = "\u3005\u4e00-\u9fff"
_JA_NAMING = re.compile(rf"[{_KANJI}]{{2,}}|[\u30a0-\u30ff]{{2,}}")  # a Japanese word that names a thing
_JA_WORD_REST = rf"[{_KANJI}\u30a0-\u30ff]*"
_SUBJECT_MARK = r"(?:[（(][^）)]*[）)])?(?:で|に)?[はがも]"  # 高橋彦博（政治学）は, 国内では
_QUESTION_WORD = re.compile(rf"\d+(?:[.,]\d+)*|[A-Za-z][\w'’-]*|{_JA_NAMING.pattern}")
# a name set off beside a phrase: "Creon, the current King", "Sugarfoot (a remake", "Thebes), Creon"
_APPOSITION = re.compile(r"^\s*[)）]?\s*[,(（、]\s*(?:(?:the|a|an|its|their)\s+)?$", re.IGNORECASE)
# the word before a name, small words between them allowed ("sold to Henry Plitt")
_LEADING = re.compile(r"\b(\w+)\s+(?:(?:to|by|from|of|for|as|at|in|on|with|the|a|an|its|their)\s+){0,2}$",
                      re.IGNORECASE)
_AFTER_PREPOSITION = re.compile(r"\b(?:from|in|at|by|to|of|on|for|with|into|across|through)\s+$", re.IGNORECASE)
_COMMA = re.compile(r",(?!\d{3})")  # a comma between words, not one in "40,000"
# characters of a sentence and its source searched for a copied clause; of a sentence (and twice as many of its
# source) aligned in full for a replaced word: all of the matching blocks cost more than the longest one
COMPARED = {"claim": 600, "source": 1500, "replaced": 160}
COPIED_FRAME = 4  # Japanese characters copied on each side of a replaced word (``replaced_in_copy``)
COPIED_CLAUSE = {"ja": 10, "en": 24}  # characters a copy must run to be a clause of its source, not a phrase
SOURCE_WORDS = frozenset(("資料", "出典", "参照"))  # Japanese words that present a source ("資料は、…")
# words that present a source ("The source is: file.txt (lines 3-4)"), not claims about the world
REFERENCE_WORDS = ANSWER_WORDS | SOURCE_WORDS | frozenset(stem(w) for w in (
    "reference", "refer", "refers", "see", "cited", "file", "document", "line", "lines", "ファイル"))


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    share: float  # of the sentence's content terms found in its source sentence
    missing: tuple[str, ...] = field(default_factory=tuple)  # what of it the source lacks, as written


def missing_details(sentence: str, source: str, context: str = "", passage: str = "") -> list[str]:
    """The details of ``sentence`` that the files do not hold: numbers and names missing from ``passage`` (the
    source sentence's passage; ``source`` itself when not given) and ``context`` (titles, the question), a
    negation that ``source``, the source sentence, does not share (or one of its own that the sentence drops), a
    number the source puts elsewhere, and a qualifier of the source that a copy leaves out."""
    claim = details(_ECHOES.sub(" ", sentence))
    numbers, terms = known(f"{passage or source}\n{context}")
    out = [n for n in sorted(claim.numbers) if n not in numbers]
    where = passage or source
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


def number_of_another(sentence: str, source: str) -> list[str]:
    """Numbers of ``sentence`` written before words copied from ``source`` where the source writes another number
    before the same words: "43 million tons of dust are windblown out of the Sahara" from "an average 182 million
    tons of dust are windblown out of the Sahara" (the 43 million tons are what falls elsewhere), "1955年の第7回党大会"
    from "1958年の第7回党大会". The copied words are the longest run of those after the number (three words or four
    characters at least, two of the words content words, the characters holding a Japanese word) that follows a
    number in the source."""
    sentence, source = (unicodedata.normalize("NFKC", t) for t in (sentence[: COMPARED["claim"]],
                                                                    source[: COMPARED["source"]]))
    numbers_before = _numbers_before(source)
    out: list[str] = []
    for m in _NUMBER_BEFORE_WORDS.finditer(sentence):
        given = m.group(1).replace(",", "")
        for run in _runs_after(sentence, m):
            if there := numbers_before.get(run):
                if given not in there and given not in out:
                    out.append(given)
                break
    return out


def _runs_after(text: str, number: re.Match[str]) -> list[tuple[str, ...] | str]:
    """What follows a number that may be copied, longest first: runs of its words, or of its characters in
    Japanese."""
    if number.group(2):
        words = tuple(_lower(number.group(2)).split())
        return [words[:k] for k in range(len(words), 2, -1) if len(stems(" ".join(words[:k]))) >= 2]
    after = _lower(text[number.end(1) : number.end(1) + JA_COPIED_AFTER])
    return [after[:k] for k in range(len(after), 3, -1) if _JA_NAMING.search(after[1:k])]  # 年の第7回党大会


def _numbers_before(source: str) -> dict[tuple[str, ...] | str, set[str]]:
    """For each run that follows a number in ``source`` (what ``_runs_after`` gives), the numbers it follows."""
    before: dict[tuple[str, ...] | str, set[str]] = {}
    for m in _NUMBER_BEFORE_WORDS.finditer(source):
        for run in _runs_after(source, m):
            before.setdefault(run, set()).add(m.group(1).replace(",", ""))
    return before


def dropped_qualifiers(sentence: str, source: str) -> list[str]:
    """Qualifiers of ``source`` that ``sentence`` copies the words around but leaves out: "contractors are
    required" from "contractors are typically required", "was first challenged" from "was first significantly
    challenged". Without its "typically" the copy claims more than the source does."""
    claim = " ".join(re.findall(r"\w+", sentence.lower()))
    out: list[str] = []
    for m in _QUALIFIED.finditer(source):
        before, qualifier, after = (g.lower() for g in m.groups())
        if f" {before} {after} " in f" {claim} " and qualifier not in claim.split() and qualifier not in out:
            out.append(qualifier)
    return out


def garbled_words(sentence: str, text: str) -> list[str]:
    """The Japanese words of ``sentence`` (runs of kanji or katakana) that ``text`` does not hold as written but
    holds with one character changed, dropped or added: a small model's miscopy of a name (都道府県委員 →
    都道県委員, 四・一六事件 → 四・一五事件), not a paraphrase, which would use another word."""
    sentence, text = unicodedata.normalize("NFKC", sentence), unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for word in dict.fromkeys(_JA_WORD.findall(_COUNTED.sub(" ", sentence))):
        if len(word) < 3 or word in text:
            continue
        variants = (f"{re.escape(word[:i])}{edit}{re.escape(word[i + cut:])}"
                    for i in range(len(word)) for edit, cut in (("", 1), (".", 1), (".", 0)))
        if any(re.search(v, text) for v in variants):
            out.append(word)
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
    for term in query_terms(_ECHOES.sub(" ", sentence)):
        written.setdefault(stem(term), term)
    new = {s: w for s, w in written.items() if s not in asked}
    if not new:
        return 1.0, []
    held = stems(passage)
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
        before = re.sub(_LIST_ITEM, "", m.group(1)).rstrip()
        label = max((x for x in labels if before.endswith(x)), key=len, default="")
        if (stems(before[: len(before) - len(label)]) | stems(m.group(2))) - REFERENCE_WORDS:
            out.append("file reference")
            break
    if quoted := _QUOTED.search(sentence):
        start = passage.find(source)
        copied = passage[start:] if start >= 0 else source  # a copy may run on past the source sentence
        held = stems(copied)
        terms = list(dict.fromkeys(query_terms(quoted.group(1))))
        out += [t for i, t in enumerate(terms) if stem(t) not in held and not _written_in(t, copied)
                and not (i == len(terms) - 1 and any(h.startswith(t) for h in held))]  # cut off mid-word
        out += [f"the quote without “{w}”" for w in left_out(quoted.group(1), passage or source)]
    return out


def left_out(quote: str, passage: str) -> list[str]:
    """What of ``passage`` a copy of it (``quote``) leaves out between the words it copies, as written (up to
    six words a gap): "often" dropped from "often yields", a clause skipped to join two halves. A copy presented as
    the passage's own words keeps every word that carries meaning; a dropped "and" or "the" is not counted, what a
    copy changes is found by the word check above, and a copy may stop anywhere."""
    said, copy = _words_of(passage), _words_of(quote)
    blocks = [b for b in SequenceMatcher(None, said, copy, autojunk=False).get_matching_blocks() if b.size]
    out: list[str] = []
    for before, after in pairwise(blocks):
        skipped = said[before.a + before.size : after.a]
        if after.b == before.b + before.size and query_terms(" ".join(skipped)):  # passage words, none of the copy
            out.append(" ".join(skipped[:6]) + (" …" if len(skipped) > 6 else ""))
    return out


def _words_of(text: str) -> list[str]:
    """Words (Japanese: runs between punctuation), in lower case, without bracketed asides ("[vague]", "(p. 3)")."""
    text = unicodedata.normalize("NFKC", re.sub(r"\[[^\]]*\]", " ", text)).lower()
    return re.findall(r"\w+", text)


def off_the_question(sentence: str, source: str, question: str, passage: str = "", about: str = "") -> list[str]:
    """What is wrong with a sentence that answers ``question`` from a place that is not about it: "The answer is:
    The Partridge Family" (from a list of 1970s hits) to "Who is Antigone's father?", or the question restated with
    an ending from elsewhere. Such a sentence claims that its answer is the question's; so ``source``, with the
    sentences beside it in ``passage`` (which may name what ``source`` calls "it"; not for a bare answer, which
    ties to nothing but its own sentence), must hold at least half of the question's terms (those it lacks are
    returned, as the question writes them), and a number the answer gives must be in ``source`` itself ("began
    in 1934" resting on "In 1938, the FCC began"). What the passage is ``about`` (its document's title and
    headings: "日本共産党 > 機関紙") counts as held. A bare answer made of the question's own words answers nothing."""
    asked = stems(question) - ANSWER_WORDS
    quoted = _QUOTED.search(sentence)
    said = _ECHOES.sub(" ", quoted.group(1) if quoted else sentence)
    bare = _bare_answer(said)
    if not asked or not (bare or _restates(said, asked) or _ANSWER_IS.match(said)):  # "The answer is that …"
        return []
    out: list[str] = []
    if bare and stems(said) <= asked | ANSWER_WORDS:  # "The answer is: terra preta." to "What is terra preta called?"
        out.append(ECHOED_QUESTION)
    held = stems(source if bare else _around(source, passage or source)) | stems(about)  # a bare answer ties to
    # nothing but its own sentence and what the passage is about
    if len(asked & held) < ON_QUESTION_SHARE * len(asked):
        out += list(dict.fromkeys(_as_written(t, question) for t in query_terms(question)
                                  if stem(t) in asked and stem(t) not in held))
    numbers = details(said).numbers - details(question).numbers - details(source).numbers
    return out + sorted(numbers) + answered_by_another(said, source, question, asked)


def answered_by_another(answer: str, source: str, question: str, asked: set[str]) -> list[str]:
    """The names and numbers ``answer`` gives where ``source`` gives another as what the question asks for, beside
    its words: "The current King of Thebes in the play is Antigone" resting on "… defies Creon, the current King
    of Thebes, …", or "The answer is: 1." to "… a maximum of how many radio stations?" resting on "… a maximum of
    seven radio stations … for $1 million". The question's words are found in ``source`` as the longest run of
    them (small words skipped, one other word between two of them allowed); what the source gives there is a name
    set off beside the run by a comma or a bracket ("Creon, the"), unless it is the run's own initials ("Vertical
    Assembly Building (VAB)"), or a number just before it ("seven radio stations"); a name just before the run is
    its subject ("the Netherlands faced a complete embargo"), and comes first; so does a name just after another of
    the question's words ("… was sold to Henry Plitt in 1974")."""
    given = {n.lower() for n in _naming(question)}
    names = [n for n in _naming(answer) if n.lower() not in given and stem(n.lower()) not in asked]
    if not names:
        return []
    words = [w for w in _QUESTION_WORD.finditer(source) if query_terms(w.group())]
    on = [stem(w.group().lower()) in asked or (bool(CJK_CHAR.search(w.group())) and w.group() in question)
          for w in words]
    start, end, count = _longest_run(source, words, on)
    if count < 2:
        return []
    initials = "".join(w.group()[0] for w in words if start <= w.start() < end and w.group()[0].isupper())
    counting = {w.start() for w, o in zip(words, on, strict=True) if o and start <= w.start() < end}
    numbers = details(source).numbers - details(question).numbers

    def beside(name: str) -> bool:
        if name in numbers:  # just before one of the run's question words: "seven radio stations"
            return any(m.end() + 1 in counting and source[m.end()] == " " for m in _written(spellings(name), source))
        return any(_APPOSITION.match(source[m.end() : start] if m.end() <= start else source[end : m.start()])
                   and not _AFTER_PREPOSITION.search(source[: m.start()])  # "From Italy, the disease …"
                   for m in _written([name], source) if m.end() <= start or m.start() >= end)

    def doing(name: str) -> bool:  # the subject of the run: "the Netherlands faced a complete embargo"
        return any(m.end() < start and not source[m.end() : start].strip()
                   and source[: m.start()].strip(" \"'“‘(")  # not the sentence's first word: "Later faced with …"
                   for m in _written([name], source))

    def led_in(name: str) -> bool:  # just after one of the question's words: "was sold to Henry Plitt"
        return any((w := _LEADING.search(source[: m.start()])) and stem(w.group(1).lower()) in asked
                   for m in _written([name], source))

    others = [w for _, w in details(source).names if w != initials and w.lower() not in given]
    named = [n for n in names if n not in numbers and not n[0].isdigit()]  # a date answers another question
    if any(doing(n) or led_in(n) for n in named):
        return []
    if named and any(doing(n) for n in others):  # it comes before a name set off after the run: ", the UK and"
        return named
    if any(beside(n) for n in names):
        return []
    return names if any(beside(n) for n in [*others, *numbers]) else []


def _written(forms: list[str], text: str) -> list[re.Match[str]]:
    """Where ``text`` writes one of ``forms`` as a word of its own (in any case)."""
    return list(re.finditer(rf"(?<!\w)(?:{'|'.join(map(re.escape, forms))})(?!\w)", text, re.IGNORECASE))


def said_of_another(sentence: str, source: str) -> list[str]:
    """What ``sentence`` names in place of what ``source`` names, where it copies a clause of ``source`` and
    puts another subject before it: "ソ連やベトナムのキープと同じように流通し…" copied from "国内ではタイバーツが
    自国通貨のキープと同じように流通し…", or "梅雨の期間中ほとんど雨が降り続く" from "この前線付近では雨が降り
    続く". The copy (its longest run shared with ``source``) says a thing of what comes before it; a sentence
    that drops what the source names there (words of kanji or katakana, names, numbers, back to the clause's
    start) and names something the source sentence does not has said it of another thing. A subject dropped
    and not replaced ("…を契機に除籍された"), or a pronoun put for it ("It is a statement of …"), is not counted."""
    claim = _claimed(sentence)
    said = unicodedata.normalize("NFKC", re.sub(r"\[[^\]]*\]", " ", source))
    run = SequenceMatcher(None, _lower(claim[:COMPARED["claim"]]), _lower(said[:COMPARED["source"]]),
                          autojunk=False).find_longest_match()  # its cost grows with both lengths
    ja = bool(CJK_CHAR.search(claim[run.a : run.a + run.size]))
    if run.size < COPIED_CLAUSE["ja" if ja else "en"]:
        return []
    a, b = run.a, run.b
    while not ja and 0 < a < run.a + run.size and claim[a - 1].isalnum():  # from a word's start
        a, b = a + 1, b + 1
    before = _CLAUSE_END.split(said[:b])[-1]
    lacking = [w for w in _naming(before) if w.lower() not in claim.lower()]
    # what the copied clause is said of: in Japanese, a word marked as its subject or topic (タイバーツが, 前線付近では,
    # 北陸地方では where the copy starts at 地方)
    clause = before + said[b:]
    dropped = [w for w in lacking
               if not ja or re.search(f"{re.escape(w)}{_JA_WORD_REST}(?:の{_JA_WORD_REST})*{_SUBJECT_MARK}", clause)]
    put = [w for w in _naming(claim[:a]) if w.lower() not in said.lower() and stem(w.lower()) not in REFERENCE_WORDS
           and not any(_kanji(w) & _kanji(n) for n in lacking)]  # 時期 → 期間: a rewording
    return put if dropped else []


def replaced_in_copy(sentence: str, source: str) -> list[str]:
    """Japanese words that ``sentence`` puts in place of the source's inside a copy of the source sentence:
    "以下は、マーラーは、ポリフォニーによる結論である" from "以下は、マーラー自身による結論である" (the conclusion is
    Mahler's own, not polyphony's). The copy runs on both sides of what is replaced (``COPIED_FRAME`` characters at
    least); a word that shares a character with what it replaces is a rewording (時期 → 期間)."""
    claim = _claimed(sentence)
    said = unicodedata.normalize("NFKC", source)
    if len(claim) > COMPARED["replaced"] or len(said) > 2 * COMPARED["replaced"] or not CJK_CHAR.search(claim):
        return []
    ops = SequenceMatcher(None, claim, said, autojunk=False).get_opcodes()
    out: list[str] = []
    for before, (tag, a1, a2, b1, b2), after in zip(ops, ops[1:], ops[2:], strict=False):  # each op between two
        if tag != "replace" or any(op[0] != "equal" or op[2] - op[1] < COPIED_FRAME for op in (before, after)):
            continue
        gone = _JA_NAMING.findall(said[b1:b2])
        put = [w for w in _JA_NAMING.findall(claim[a1:a2])
               if w not in said[b1:b2] and not any(set(w) & set(g) for g in gone) and w not in out]
        if gone:
            out += put
    return out


def _claimed(sentence: str) -> str:
    """What ``sentence`` says, as compared with its source: the text under a copied header, without places or list
    marks, in NFKC."""
    quoted = _QUOTED.search(sentence)
    return unicodedata.normalize("NFKC", _ECHOES.sub(" ", quoted.group(1) if quoted else sentence))


def _lower(text: str) -> str:
    """``text`` in lower case, character for character ("İ".lower() is two characters: positions must not shift)."""
    return "".join(c.lower()[:1] for c in text)


def _kanji(word: str) -> set[str]:
    return set(re.findall(f"[{_KANJI}]", word))


def _longest_run(text: str, words: list[re.Match[str]], on: list[bool]) -> tuple[int, int, int]:
    """The longest run of ``words`` (of ``text``) that are ``on``, one word between two of them allowed (not
    across a comma): its start, its end and how many of its words are on."""
    run, i = (0, 0, 0), 0
    while i < len(words):
        j, count = i, int(on[i])
        while on[i] and j + 1 < len(words) and (on[j + 1] or (
                j + 2 < len(words) and on[j + 2] and not _COMMA.search(text[words[j].end() : words[j + 2].start()]))):
            j += 1
            count += on[j]
        if count > run[2]:
            run = (words[i].start(), words[j].end(), count)
        i = j + 1
    return run


def _naming(text: str) -> list[str]:
    """The words of ``text`` that name a thing: Japanese words of kanji or katakana, names and numbers."""
    found = details(text)
    return list(dict.fromkeys([*_JA_NAMING.findall(text), *sorted(found.numbers), *(w for _, w in found.names)]))


def _as_written(term: str, text: str) -> str:
    """``term`` (in lower case) as ``text`` writes it: "Antigone" for "antigone"."""
    m = re.search(rf"(?<!\w){re.escape(term)}", text, re.IGNORECASE)
    return m.group(0) if m else term


def _bare_answer(sentence: str) -> bool:
    """An answer alone after "The answer is": "The answer is: The Walt Disney Company", not a statement "The
    answer is: Turing machines are …", which is judged as any statement is."""
    if m := _ANSWER_IS.match(sentence):
        rest = sentence[m.end():]
        if not re.search(r"\w", rest):  # "The answer is:" gives nothing yet: it leads into what follows
            return False
        return not _CLAUSE_VERB.search(re.split(r"[,(;、（]", rest)[0]) and (
            not CJK_CHAR.search(rest) or len(rest.strip()) <= 20)
    return False


def _restates(sentence: str, asked: set[str]) -> bool:
    """The sentence restates half the question (or more): it gives the question's answer."""
    return len(asked) >= 2 and len(stems(sentence) & asked) >= len(asked) / 2


def _around(source: str, passage: str) -> str:
    """``source`` and the sentences before and after it in its paragraph of ``passage``."""
    for sentences in cite.paragraphs(passage):
        if source in sentences:
            i = sentences.index(source)
            return " ".join(sentences[max(0, i - 1) : i + 2])
    return source


def judge(sentence: str, source: str | None, share: float, context: str = "", *, question: str = "",
          passage: str = "", labels: Sequence[str] = (), about: str = "") -> Judgement:
    """The verdict on ``sentence`` given its best source sentence (None: no source sentence matched), the
    passage that holds it, what that passage is about (its title and headings) and the sources' headers
    (``labels``)."""
    if source is None or share < PARTLY_SHARE:
        return Judgement("unsupported", share)
    # "The answer to the question is: …" is not part of the claim, nor is a pronoun
    terms = stems(sentence) - ANSWER_WORDS - CLAIMLESS_WORDS
    if terms and question:  # the question's own words count as borne out: the user stated them
        share = max(share, len(terms & (stems(source) | stems(question))) / len(terms))
    missing = missing_details(sentence, source, context, passage)
    missing += [w for w in header_misuse(sentence, source, passage, labels) if w not in missing]
    missing += [w for w in off_the_question(sentence, source, question, passage, about) if w not in missing]
    missing += [w for w in said_of_another(sentence, source) if w not in missing]
    missing += [w for w in replaced_in_copy(sentence, source) if w not in missing]
    new_share, lacking = new_terms_missing(sentence, question, f"{passage or source}\n{context}")
    if new_share < NEW_TERMS_SHARE:
        missing += [w for w in lacking if w not in missing]
    verdict: Verdict = "supported" if share >= SUPPORTED_SHARE and not missing else "partly"
    return Judgement(verdict, share, tuple(missing))


def _file_stem(path: str) -> str:
    """What a file without a title is called: its name without folders and extension ("日本共産党")."""
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("_", " ")


def names_only_sources(sentence: str, labels: Sequence[str], lines: Sequence[tuple[int, int]] = ()) -> bool:
    """A sentence that only names sources, as the prompt's headers do ("日本共産党.txt (line 91)", "1. Apollo
    program > Background (lines 3-4)", "Sources:"): it says nothing about the world, so nothing in it can be
    unsupported. An answer given after "The answer is" is a claim, even where it is a source's title; so is a
    place that no source is at, where the sources' ``lines`` are known ("(line 34)" for passages at lines 3-9)."""
    if _bare_answer(sentence):
        return False
    for m in _LINES.finditer(sentence):
        first, last = (int(n[:10]) for n in (m.group(1), m.group(2) or m.group(1)))  # not a 5,000-digit int
        if lines and not any(start <= first <= last <= end for start, end in lines):
            return False
    files = [label for label in labels if re.search(r"\.\w{1,5}$", label)]
    if not (_PLACE_OR_ITEM.search(sentence) or _CUT_PLACE.search(sentence) or stems(sentence) & REFERENCE_WORDS
            or any(f in sentence for f in files)):
        return False  # a title alone ("Apollo", "Apollo program.") may be an answer
    rest = _CUT_PLACE.sub(" ", _ECHOES.sub(" ", sentence))
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


def cut_before_a_claim(sentence: str, known: str) -> bool:
    """A sentence the model was cut off in before it said anything ("マ", "ナフサのエ", "The Apollo 1"): short, with
    no sentence end, its last word begun as a word of ``known`` (the passages and the question) begins, and the words
    before that in ``known`` too. Like a one-character leftover, it states nothing. An answer after "The answer is"
    is a claim however short."""
    text = unicodedata.normalize("NFKC", _ECHOES.sub(" ", sentence)).strip()
    if not text or re.search(r"[。.!?]$", text) or _ANSWER_IS.match(text):
        return False
    if len(re.sub(r"\s", "", text)) > FRAGMENT["ja"] if CJK_CHAR.search(text) else len(text.split()) > FRAGMENT["en"]:
        return False
    known = unicodedata.normalize("NFKC", known)
    body = text.rstrip("、,:： ")
    begun = _WORD_BEGUN.search(body)
    if begun and not _HIRAGANA.fullmatch(begun.group(0)):  # hiragana: a particle or an ending, begun or not
        word = begun.group(0)
        lead = r"(?<!\d)" if word.isdigit() else r"(?<![A-Za-z])" if word.isascii() else ""
        if not re.search(lead + re.escape(word), known, re.IGNORECASE):
            return False
    before = body[: begun.start()] if begun else body
    return (all(w in known or w in REFERENCE_WORDS for w in _JA_WORD.findall(before))
            and not stems(before) - stems(known) - REFERENCE_WORDS - CLAIMLESS_WORDS)


def _holding_the_number(claim: str, sources: Sequence[Source], question: str) -> cite.Candidate | None:
    """For a bare answer that is only a number ("The answer is: 2.", which shares no word with a passage that
    writes "two men"): the source sentence holding that number with the most of the question's terms."""
    given = details(claim).numbers
    if not (_bare_answer(claim) and given) or stems(_ANSWER_IS.sub("", claim)) - given:
        return None
    asked = stems(question)
    holding = [c for c in cite.candidates(sources) if given <= details(c.text).numbers]
    return max(holding, key=lambda c: len(asked & c.stems), default=None)


def judge_answer(text: str, sources: Sequence[Source], question: str) -> list[tuple[cite.Match, Judgement]]:
    """Every claim of the answer ``text`` with its best source sentence and the verdict on it (before the quote
    is verified in the file: ``Asker.judge`` does that)."""
    out: list[tuple[cite.Match, Judgement]] = []
    labels = [name for s in sources for name in (  # as the prompt names them (``prompt.source_block``), or so
        " > ".join(t for t in (s.hit.title, *s.hit.heading) if t), s.hit.path.rsplit("/", 1)[-1], s.hit.title or "")
        if name]
    lines = [(s.hit.line_start, s.hit.line_end or s.hit.line_start) for s in sources if s.hit.line_start is not None]
    known = "\n".join([*(s.hit.text for s in sources), question])
    for match in cite.match_claims(text, sources, question):
        if (asks(match.claim) or names_only_sources(match.claim, labels, lines)
                or cut_before_a_claim(match.claim, known)):  # nothing to cite or verify
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
                                 question=question, passage=hit.text, labels=labels, about=about)))
    return out
