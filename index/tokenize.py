"""Text → lexical terms for the FTS5 index, English and Japanese alike.

SQLite's own tokenizers cannot cut unspaced Japanese into words, so runs of CJK text are
cut here with Sudachi (a morphological analyser whose dictionary ships on PyPI) and
joined with spaces; everything else is left for FTS5's ``porter unicode61`` tokenizer.
Japanese words are reduced to Sudachi's normalised dictionary form (呼ばれ → 呼ぶ) and
particles, auxiliaries and symbols are dropped, so questions match their answers' text.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_CJK_RUN = re.compile(r"[\u3005\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff10-\uff5a\uff66-\uff9f\u30fc]+")
_TERM = re.compile(r"\w+", re.UNICODE)
_DROP_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白"})
_MAX_SUDACHI_BYTES = 40_000  # Sudachi refuses inputs over ~49 KB

# Question words and function words that match everything and help nothing.
_QUERY_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "as",
        "into",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "we",
        "you",
        "i",
        "me",
        "my",
        "our",
        "your",
        "not",
        "no",
        "yes",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "has",
        "have",
        "had",
        "about",
        "s",
        "何",
        "誰",
        "どこ",
        "いつ",
        "どの",
        "どれ",
        "どんな",
        "どう",
        "なぜ",
        "何故",
        "幾つ",
        "いくつ",
        "いくら",
        "如何",
        "為る",
        "居る",
        "成る",
        "有る",
        "言う",
        "事",
        "物",
        "所",
        "其の",
        "此の",
        "様",
        "よう",
    ]
)

_dictionary_lock = threading.Lock()
_loaded: dict[str, Any] = {}  # "dictionary": Sudachi's, while loaded; "used": when it was last handed out


def _dictionary() -> Any:
    with _dictionary_lock:
        if "dictionary" not in _loaded:
            from sudachipy import Dictionary

            _loaded["dictionary"] = Dictionary(dict="core")
        _loaded["used"] = time.monotonic()
        return _loaded["dictionary"]


def _sudachi() -> Any:
    """A tokenizer of its own for each call (creating one costs under a microsecond): none outlives its use, so
    ``release_idle`` really frees the dictionary."""
    from sudachipy import SplitMode

    return _dictionary().tokenizer(mode=SplitMode.A)


def release_idle(idle_s: float) -> bool:
    """Drop Sudachi's dictionary if unused for ``idle_s``: it maps about 150 MB of the daemon's memory, and the
    next Japanese text loads it again in about 0.2 s. Returns whether it was dropped."""
    with _dictionary_lock:
        if "dictionary" not in _loaded or time.monotonic() - _loaded["used"] < idle_s:
            return False
        _loaded.clear()
    return True


def _japanese_terms(run: str) -> list[str]:
    tok = _sudachi()
    out: list[str] = []
    for i in range(0, len(run), _MAX_SUDACHI_BYTES // 3):
        for m in tok.tokenize(run[i : i + _MAX_SUDACHI_BYTES // 3]):
            if m.part_of_speech()[0] not in _DROP_POS:
                out.append(m.normalized_form().lower())
    return out


_JA_NEGATIONS = frozenset({"ない", "ぬ", "ず", "無い", "ません"})
# ない that negates nothing: "may be", "must", "no doubt", "cannot be helped", lexicalised adjectives
_JA_NOT_NEGATED = re.compile(r"かも(?:しれ|知れ)(?:ない|ません)"
                             r"|な(?:けれ|く)(?:ば|ては|ちゃ)(?:なら|いけ)(?:ない|ません)"
                             r"|ざるを得(?:ない|ません)|(?:間|ま)違いない|違いない|つまらない|もったいない|仕方(?:が)?ない"
                             r"|しょうがない|くだらない|たまらない|とんでもない|申し訳ない|だらしない|さりげない|あっけない")


@dataclass(frozen=True)
class JapaneseDetails:
    names: frozenset[str]  # proper nouns (people, places, organisations), normalised
    negated: bool  # a verb or adjective is negated (ない, ぬ, ず, ません)
    negated_words: frozenset[str]  # the content word each negation negates (降る in 降らなかった)


def japanese_details(text: str) -> JapaneseDetails:
    """The names and the negations in the Japanese runs of ``text``, from one pass of the analyser."""
    names: set[str] = set()
    negated_words: set[str] = set()
    negated = False
    text = _JA_NOT_NEGATED.sub("、", text)
    for m in _CJK_RUN.finditer(text):
        tok = _sudachi()
        run = m.group(0)
        last = ""  # the content word before the current morpheme
        for i in range(0, len(run), _MAX_SUDACHI_BYTES // 3):
            for morpheme in tok.tokenize(run[i : i + _MAX_SUDACHI_BYTES // 3]):
                pos = morpheme.part_of_speech()
                if pos[0] in ("助動詞", "形容詞") and morpheme.dictionary_form() in _JA_NEGATIONS:
                    negated = True
                    if last:
                        negated_words.add(last)
                    continue
                normalized = morpheme.normalized_form()
                if pos[1] == "固有名詞":
                    names.add(normalized.lower())
                if pos[0] not in _DROP_POS and normalized not in _LIGHT_VERBS:
                    last = normalized.lower()
    return JapaneseDetails(frozenset(names), negated, frozenset(negated_words))


_LIGHT_VERBS = frozenset({"為る", "出来る", "居る", "有る", "成る", "在る"})  # 解除された: 解除 is what is negated


def index_text(text: str) -> str:
    """The text as FTS5 should index it: Japanese runs cut into normalised words."""
    if not _CJK_RUN.search(text):
        return text
    pieces: list[str] = []
    pos = 0
    for m in _CJK_RUN.finditer(text):
        pieces.append(text[pos : m.start()])
        pieces.append(" " + " ".join(_japanese_terms(m.group(0))) + " ")
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces)


def query_terms(text: str) -> list[str]:
    """Distinct terms of a query, in order, without stopwords."""
    seen: dict[str, None] = {}
    for term in _TERM.findall(index_text(text).lower()):
        if term not in _QUERY_STOPWORDS and term not in seen:
            seen[term] = None
    return list(seen)


def fts_phrase(term: str) -> str:
    """One term as an FTS5 phrase (quoted, so that no term is read as an operator)."""
    return '"' + term.replace('"', '""') + '"'


def fts_match(terms: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression that ORs ``terms`` (None when there are none)."""
    return " OR ".join(map(fts_phrase, terms)) or None


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression that ORs the query's terms (None when nothing is left)."""
    return fts_match(query_terms(text))
