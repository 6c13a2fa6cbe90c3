"""The words and patterns that the support checks share (``support``, ``answering``, ``copies``): words that
make no claim about the world (about the answer itself, presenting a source, standing for what is said elsewhere),
what a model copies from the prompt's source headers, and Japanese words that name a thing."""

from __future__ import annotations

import re

from ragd.index.answer.details import details
from ragd.index.answer.terms import stem

# words about the answer itself, not about the world ("The answer to this question is: ...")
ANSWER_WORDS = frozenset(stem(w) for w in (
    "answer", "answers", "question", "questions", "correct", "source", "sources", "passage", "passages", "text",
    "following", "mentioned", "according", "provided", "given", "information", "回答", "答え", "質問", "文章"))
# Japanese words that point to what is said elsewhere, ask for something or only decorate, as Sudachi writes them
# (これ → 此れ, それら → 其れ 等, こちら → 此方, ください → 下さる, お/ご → 御): never a detail that the files must hold
CLAIMLESS_WORDS = frozenset(("此れ", "其れ", "彼れ", "此方", "其方", "ここ", "そこ", "あそこ", "等", "そのまま",
                             "下さる", "御"))
SOURCE_WORDS = frozenset(("資料", "出典", "参照"))  # Japanese words that present a source ("資料は、…")
# words that present a source ("The source is: file.txt (lines 3-4)"), not claims about the world
REFERENCE_WORDS = ANSWER_WORDS | SOURCE_WORDS | frozenset(stem(w) for w in (
    "reference", "refer", "refers", "see", "cited", "file", "document", "line", "lines", "ファイル"))
# what a model copies from the prompt's source headers ("(lines 62-62)") or a list ("2. "): not claims
PLACE = r"\((?:p\. ?\d+,? ?)?lines? \d+(?:-\d+)?\)"
LIST_ITEM = r"^\s*\d{1,3}[.)]\s"
ECHOES = re.compile(f"{PLACE}|{LIST_ITEM}")
QUOTED = re.compile(f"{PLACE}[ \t]*\n(.+)", re.DOTALL)  # a header line, then the passage as copied
JA_WORD = re.compile(r"[\u3005\u4e00-\u9fff]+(?:・[\u3005\u4e00-\u9fff]+)*|[\u30a0-\u30ff]+")  # kanji, katakana
KANJI = "\u3005\u4e00-\u9fff"
JA_NAMING = re.compile(rf"[{KANJI}]{{2,}}|[\u30a0-\u30ff]{{2,}}")  # a Japanese word that names a thing


def naming(text: str) -> list[str]:
    """The words of ``text`` that name a thing: Japanese words of kanji or katakana, names and numbers."""
    found = details(text)
    return list(dict.fromkeys([*JA_NAMING.findall(text), *sorted(found.numbers), *(w for _, w in found.names)]))
