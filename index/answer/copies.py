"""Does a copy of a source sentence say what its source says? A small model copies a source sentence and
changes the year, puts another name or word in, drops a qualifier or a clause, or glues a copied clause to another
subject. These checks compare a sentence with its source sentence (or a quote with its passage) and return what the
copy changed, as the sentence writes it."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from itertools import pairwise

from ragd.index.answer.terms import stem, stems
from ragd.index.answer.wording import ECHOES, JA_NAMING, JA_WORD, KANJI, QUOTED, REFERENCE_WORDS, naming
from ragd.index.chunk import CJK_CHAR
from ragd.index.tokenize import query_terms

_COUNTED = re.compile(r"\d+[回年月日人件個名歳時分秒円倍位番号代期]")  # a counter is not part of the next word
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
# a number's qualifier in a source ("an estimated 438,000", "nearly $12", "約27万人"; not 条約's 約, nor "about 1984",
# which may be a book), and what qualifies a number in a copy: before it ("some 12"), in Japanese after it (27万人ほど)
NUMBER_QUALIFIERS = ("approximately", "roughly", "nearly", "almost", "estimated", "about", "around", "more than",
                     "at least")
# words that give a number as near, not exact: one may stand for another ("approximately $12" for "nearly $12")
APPROXIMATE = frozenset(("approximately", "roughly", "nearly", "almost", "around", "circa", "estimated"))
_QUALIFIED_NUMBER = re.compile(rf"(?:\b({'|'.join(NUMBER_QUALIFIERS)})\s+\$?|(?<![{KANJI}])(約|およそ|ほぼ))"
                               r"(?!1\d{3}\b|20\d{2}\b)(\d[\d,.]*\d|\d)", re.IGNORECASE)
_QUALIFIER_BEFORE = re.compile(rf"(?:\b(?:{'|'.join(NUMBER_QUALIFIERS)}|less than|fewer than|some|under|over|up to"
                               r"|as (?:much|many|little|few) as|circa)\s+|約|およそ|ほぼ)(?:US)?\$?$", re.IGNORECASE)
_QUALIFIER_AFTER = re.compile(r"^[^\d\s。、]{0,3}?(?:ほど|程度|前後|余り|あまり|以上|近く|強|弱)")
QUALIFIER_REACH = 24  # characters before a number in a copy searched for its qualifier
# a range of numbers in a source ("$400,000–$450,000", "10〜15"; not "from 3 to 12", which may be a change, nor
# "2014-03-12" or "AB-3-12"); not of years ("1939–1945": a copy may well say that a war began in 1939)
_RANGE = re.compile(r"(?<![A-Za-z0-9.,\-/])\$?(?!1\d{3}\b|20\d{2}\b)(\d[\d,.]*\d|\d)\s*(?:[–—~〜～]|-(?=\s*\$?\d))\s*"
                    r"\$?(\d[\d,.]*\d|\d)(?![\d\-/]|[.,]\d)")  # not a date, an ID or an address (2014-03-12, AB-3-12)
_CLAUSE_END = re.compile(r"[、,;；:：。]|\s[-–—]\s")
_JA_WORD_REST = rf"[{KANJI}\u30a0-\u30ff]*"
_SUBJECT_MARK = r"(?:[（(][^）)]*[）)])?(?:で|に)?[はがも]"  # 高橋彦博（政治学）は, 国内では
# characters of a sentence and its source searched for a copied clause; of a sentence (and twice as many of its
# source) aligned in full for a replaced word: all of the matching blocks cost more than the longest one
COMPARED = {"claim": 600, "source": 1500, "replaced": 160}
COPIED_FRAME = 4  # Japanese characters copied on each side of a replaced word (``replaced_in_copy``)
COPIED_CLAUSE = {"ja": 10, "en": 24}  # characters a copy must run to be a clause of its source, not a phrase


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
    return [after[:k] for k in range(len(after), 3, -1) if JA_NAMING.search(after[1:k])]  # 年の第7回党大会


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
    challenged". Without its "typically" the copy claims more than the source does. So does a number the source
    qualifies given with no qualifier ("is 438,000" from "an estimated 438,000"; "approximately $12" from "nearly
    $12" keeps one), or one end of a range given alone ("$450,000" from "$400,000–$450,000")."""
    claim = " ".join(re.findall(r"\w+", sentence.lower()))
    out: list[str] = []
    for m in _QUALIFIED.finditer(source):
        before, qualifier, after = (g.lower() for g in m.groups())
        if f" {before} {after} " in f" {claim} " and qualifier not in claim.split() and qualifier not in out:
            out.append(qualifier)
    text, said = (unicodedata.normalize("NFKC", t)
                  for t in (sentence[: COMPARED["claim"]], source[: COMPARED["source"]]))
    for m in _QUALIFIED_NUMBER.finditer(said):
        qualifier, number = (m.group(1) or m.group(2)).lower(), m.group(3)
        written = rf"(?<![\d.,]){re.escape(number)}(?![\d]|[.,]\d|th|st|nd|rd)"
        if len(list(re.finditer(written, said))) > 1 or qualifier in out:  # the source gives it bare too
            continue
        given = list(re.finditer(written, text))
        if given and not any(_qualified(text, g) for g in given):
            out.append(qualifier)
    return out + _range_ends(text, said)


def _range_ends(text: str, said: str) -> list[str]:
    """The ranges of ``said`` that ``text`` gives one end of, as if it were the number: "was $450,000" from "an
    average budget of $400,000–$450,000"."""
    out: list[str] = []
    for m in _RANGE.finditer(said):
        ends = [rf"(?<![\d.,]){re.escape(n)}(?![\d]|[.,]\d)" for n in m.group(1, 2)]
        given = [g for e in ends for g in re.finditer(e, text)]
        if (len({g.group(0) for g in given}) == 1 and all(len(re.findall(e, said)) == 1 for e in ends)
                and not any(_qualified(text, g) for g in given)):  # "at least $400,000", "10人以上" keep it a range
            out.append(f"range {m.group(0).strip()}")
    return out


def _qualified(text: str, number: re.Match[str]) -> bool:
    """A qualifier just before ``number`` in ``text`` ("nearly 12", "at least $400,000") or, in Japanese, after it
    ("27万人ほど", "10人以上")."""
    return bool(_QUALIFIER_BEFORE.search(text[max(0, number.start() - QUALIFIER_REACH) : number.start()])
                or _QUALIFIER_AFTER.match(text[number.end() : number.end() + 6]))


def garbled_words(sentence: str, text: str) -> list[str]:
    """The Japanese words of ``sentence`` (runs of kanji or katakana) that ``text`` does not hold as written but
    holds with one character changed, dropped or added: a small model's miscopy of a name (都道府県委員 →
    都道県委員, 四・一六事件 → 四・一五事件), not a paraphrase, which would use another word."""
    sentence, text = unicodedata.normalize("NFKC", sentence), unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for word in dict.fromkeys(JA_WORD.findall(_COUNTED.sub(" ", sentence))):
        if len(word) < 3 or word in text:
            continue
        variants = (f"{re.escape(word[:i])}{edit}{re.escape(word[i + cut:])}"
                    for i in range(len(word)) for edit, cut in (("", 1), (".", 1), (".", 0)))
        if any(re.search(v, text) for v in variants):
            out.append(word)
    return out


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
    lacking = [w for w in naming(before) if w.lower() not in claim.lower()]
    # what the copied clause is said of: in Japanese, a word marked as its subject or topic (タイバーツが, 前線付近では,
    # 北陸地方では where the copy starts at 地方)
    clause = before + said[b:]
    dropped = [w for w in lacking
               if not ja or re.search(f"{re.escape(w)}{_JA_WORD_REST}(?:の{_JA_WORD_REST})*{_SUBJECT_MARK}", clause)]
    put = [w for w in naming(claim[:a]) if w.lower() not in said.lower() and stem(w.lower()) not in REFERENCE_WORDS
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
        gone = JA_NAMING.findall(said[b1:b2])
        put = [w for w in JA_NAMING.findall(claim[a1:a2])
               if w not in said[b1:b2] and not any(set(w) & set(g) for g in gone) and w not in out]
        if gone:
            out += put
    return out


# words a copy must not swap for one another: the other word of a group reverses or moves what the source says
# ("the best-case time complexity is the maximum time" from "the worst-case …"; 梅雨明け from 梅雨入り)
OPPOSITES = tuple(frozenset(stem(w) for w in group) for group in (
    ("best", "worst"), ("inner", "outer"), ("maximum", "minimum"), ("largest", "smallest"), ("highest", "lowest"),
    ("larger", "smaller"), ("higher", "lower"), ("longer", "shorter"), ("more", "less", "fewer"),
    ("increase", "decrease"), ("before", "after"), ("above", "below"), ("upper", "lower"), ("earliest", "latest"),
    ("first", "second", "third", "last", "final"), ("north", "south", "east", "west"),
    ("northern", "southern", "eastern", "western"), ("primary", "secondary"), ("major", "minor"),
    ("internal", "external"), ("positive", "negative"), ("success", "failure"), ("legal", "illegal"),
    ("direct", "indirect"), ("older", "younger"), ("early", "late")))
JA_OPPOSITES = (("最大", "最小"), ("最初", "最後"), ("以上", "以下", "未満"), ("増加", "減少"),
                ("上昇", "下降", "低下"), ("東部", "西部", "南部", "北部"), ("東側", "西側"), ("前半", "後半"),
                ("上旬", "中旬", "下旬"), ("以前", "以後", "以降"), ("入り", "明け"), ("賛成", "反対"),
                ("勝利", "敗北"), ("成功", "失敗"), ("合法", "違法"), ("開始", "終了"))
# closed sets of values: one put for another that the source sentence gives is a change, wherever the copy has it
# ("a gold-on-black color scheme" from "a gold CGI design on a blue background"); "may" is no month, it is a modal
VALUES = (frozenset(("black", "white", "red", "blue", "green", "yellow", "orange", "purple", "pink", "brown", "grey",
                     "gray", "gold", "silver")),
          frozenset(("january", "february", "march", "april", "june", "july", "august", "september", "october",
                     "november", "december")),
          frozenset(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")),
          frozenset(("spring", "summer", "autumn", "winter")))
COPIED_BESIDE = {"ja": 4, "en": 2}  # characters / words copied next to a swapped word, on one side at least


def swapped_opposites(sentence: str, source: str) -> list[str]:
    """Words of ``sentence`` put in place of their opposite in a copy of ``source``: "The best-case time
    complexity T(n) is defined to be the maximum time taken" from "the worst-case time complexity T(n) is defined
    to be the maximum time taken", "梅雨明けしたとみられる" from "梅雨入りしたとみられる". The copy runs on beside
    the swapped word (``COPIED_BESIDE``); the source does not use the word itself. In English, a value of a closed
    set (``VALUES``: a colour, a month) put for another that the source sentence gives is a swap wherever it is."""
    claim = _claimed(sentence)[: COMPARED["claim"]]
    said = unicodedata.normalize("NFKC", source)[: COMPARED["source"]]
    if CJK_CHAR.search(claim):
        return [w for group in JA_OPPOSITES for w in group if w in claim and w not in said
                and any(_copied_beside(w, o, claim, said) for o in group if o != w)]
    words, held = _words_of(claim), _words_of(said)
    written, given = set(words), set(held)
    out = [w for w in dict.fromkeys(words) for values in VALUES
           if w in values and w not in given and (values - {w}) & given - written]
    if "than" in written and "than" in given:  # a comparison turned round: "A uses more fuel than B" from "B … less"
        return out
    claim_stems, held_stems = [stem(w) for w in words], [stem(w) for w in held]
    said_stems = set(held_stems)
    ops = SequenceMatcher(None, claim_stems, held_stems, autojunk=False).get_opcodes()
    for i, (tag, a1, a2, b1, b2) in enumerate(ops):
        if tag != "replace" or not any(op[0] == "equal" and op[2] - op[1] >= COPIED_BESIDE["en"]
                                       for op in ops[max(0, i - 1) : i + 2]):
            continue
        gone = set(held_stems[b1:b2])
        out += [w for w, s in zip(words[a1:a2], claim_stems[a1:a2], strict=True) if w not in out
                and s not in said_stems and any(s in group and (group - {s}) & gone for group in OPPOSITES)]
    return out


def _copied_beside(word: str, other: str, claim: str, said: str) -> bool:
    """``claim`` writes ``word`` where ``said`` writes ``other``, with the same characters just before or after."""
    frame = COPIED_BESIDE["ja"]
    for i in (m.start() for m in re.finditer(re.escape(word), claim)):
        for j in (m.start() for m in re.finditer(re.escape(other), said)):
            after = claim[i + len(word) : i + len(word) + frame]
            if (min(i, j) >= frame and claim[i - frame : i] == said[j - frame : j]) or (
                    after and after == said[j + len(other) : j + len(other) + frame]):
                return True
    return False


def list_made_possessive(sentence: str, source: str) -> list[str]:
    """Two items of a Japanese list in ``source`` that ``sentence`` joins with の, making one of the other:
    "今日のエクソンモービルのシェブロン" (Chevron of ExxonMobil) from "今日のエクソンモービル、シェブロンなど"."""
    claim, said = _claimed(sentence), unicodedata.normalize("NFKC", source)
    pairs = re.finditer(rf"(?<![{KANJI}\u30a0-\u30ff])(?=({JA_NAMING.pattern})[、や]({JA_NAMING.pattern}))", said)
    return list(dict.fromkeys(joined for m in pairs if (joined := f"{m.group(1)}の{m.group(2)}") in claim
                              and joined not in said))


def left_out(quote: str, passage: str) -> list[str]:
    """What of ``passage`` a copy of it (``quote``) leaves out between the words it copies, as written (up to
    six words a gap): "often" dropped from "often yields", a clause skipped to join two halves. A copy presented as
    the passage's own words keeps every word that carries meaning; a dropped "and" or "the" is not counted, what a
    copy changes is found by the word check of ``support.header_misuse``, and a copy may stop anywhere."""
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


def _claimed(sentence: str) -> str:
    """What ``sentence`` says, as compared with its source: the text under a copied header, without places or list
    marks, in NFKC."""
    quoted = QUOTED.search(sentence)
    return unicodedata.normalize("NFKC", ECHOES.sub(" ", quoted.group(1) if quoted else sentence))


def _lower(text: str) -> str:
    """``text`` in lower case, character for character ("İ".lower() is two characters: positions must not shift)."""
    return "".join(c.lower()[:1] for c in text)


def _kanji(word: str) -> set[str]:
    return set(re.findall(f"[{KANJI}]", word))
