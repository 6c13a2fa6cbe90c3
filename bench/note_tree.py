"""Trees of short notes cut from the real texts (SQuAD paragraphs and Cranfield abstracts), in nested
folders: what the daemon latency, scale and query latency benchmarks index."""

from __future__ import annotations

import html
import random
import re
from pathlib import Path

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(A-Z0-9])")
_TAG = re.compile(r"<[^>]+>")


# -- the tree ---------------------------------------------------------------------------------
def _sentences(text: str) -> list[str]:
    text = " ".join(text.split())
    return [s for s in _SENTENCE_END.split(text) if 30 <= len(s) <= 400]


def load_passages(data: Path) -> list[list[str]]:
    """Runs of consecutive real sentences: one per SQuAD paragraph and one per Cranfield abstract."""
    passages: list[list[str]] = []
    for doc in sorted((data / "squad_en" / "docs").iterdir()):
        raw = doc.read_text(encoding="utf-8")
        if doc.suffix == ".html":
            raw = "\n\n".join(html.unescape(_TAG.sub("", p)) for p in re.findall(r"<p>(.*?)</p>", raw, re.S))
        for para in raw.split("\n\n")[1:]:  # the first block is the title
            if len(sents := _sentences(para)) >= 2:
                passages.append(sents)
    for doc in sorted((data / "cranfield_en" / "docs").iterdir()):
        _, _, abstract = doc.read_text(encoding="utf-8", errors="replace").partition("\n\n")
        text = " ".join(abstract.replace(" .", ".").replace(" ,", ",").split())
        sents = [s[0].upper() + s[1:] for s in re.split(r"(?<=\.)\s+", text) if 30 <= len(s) <= 400]
        if len(sents) >= 2:
            passages.append(sents)
    return passages


def paragraph(rng: random.Random, passages: list[list[str]]) -> str:
    sents = rng.choice(passages)
    n = min(len(sents), rng.randint(2, 4))
    start = rng.randint(0, len(sents) - n)
    return " ".join(sents[start : start + n])


def note_text(rng: random.Random, passages: list[list[str]], name: str, paragraphs: int,
              extra: str = "") -> str:
    body = [paragraph(rng, passages) for _ in range(paragraphs)]
    if extra:
        body[-1] += " " + extra
    if name.endswith(".md"):  # markdown notes carry a title (so their sentences are embedded afresh)
        words = [w for w in body[0].split() if w.isalpha()][: rng.randint(3, 6)]
        body.insert(0, f"# {' '.join(words).capitalize()} ({name.split('.')[0]})")
    return "\n\n".join(body) + "\n"


def build_tree(root: Path, files: int, passages: list[list[str]], seed: int) -> list[Path]:
    """``files`` notes in ~100-file folders; in every folder about a third sit one or two levels deeper."""
    rng = random.Random(seed)
    folders = max(1, round(files / 100))
    paths: list[Path] = []
    for n in range(files):
        top = root / f"area-{n % folders:03d}"
        roll = rng.random()
        where = top if roll < 0.65 else top / f"sub-{n % 3}" if roll < 0.9 else top / f"sub-{n % 3}" / "deep"
        name = f"note-{n:05d}.{'md' if rng.random() < 0.75 else 'txt'}"
        where.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(note_text(rng, passages, name, rng.randint(1, 3)), encoding="utf-8")
        paths.append(where / name)
    return paths
