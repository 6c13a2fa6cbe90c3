"""Obsidian-style vaults: resolve a note's ``[[wikilinks]]`` and ``![[embeds]]`` by file name, find embed cycles.

Obsidian resolves ``[[Name]]`` case-insensitively against the file names of the whole vault (the nearest
folder above the note holding ``.obsidian/``; without one, the note's own folder and those below it).
A parser sees one file, so this reads the vault's file *names* (capped, cached per vault root per process
for a short while) and, to find embed cycles, the text of embedded notes (capped in count, depth and size).
Nothing is inlined: an embedded note is indexed on its own, so its text is cited where it lives.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ragd.index.models import Document

MAX_LISTED_FILES = 20_000  # a vault with more files resolves only links to the first ones listed
MAX_ASCENT = 32  # folders looked at above a note for .obsidian/
CACHE_SECONDS = 30.0  # a listing is reused this long (a long-lived worker sees new notes soon enough)
MAX_EMBED_DEPTH = 16
MAX_EMBED_NOTES = 200
MAX_NOTE_BYTES = 1 << 20  # an embedded note larger than this is not read for its own embeds

_EMBED = re.compile(r"!\[\[([^\[\]\n]+?)\]\]")
_CODE_SPAN = re.compile(r"(`+).+?\1")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOTE_SUFFIXES = (".md", ".markdown")


@dataclass
class Listing:
    """The files of one vault, indexed by lower-cased name and (for notes) stem."""

    root: str
    by_name: dict[str, list[str]] = field(default_factory=dict)  # "white.png" -> ["white.png"]
    by_stem: dict[str, list[str]] = field(default_factory=dict)  # "note-in-subdir" -> ["subdir/note-in-subdir.md"]
    by_path: dict[str, str] = field(default_factory=dict)  # "subdir/note-in-subdir" -> "subdir/note-in-subdir.md"


_lock = threading.Lock()
T = TypeVar("T")
_listings: dict[str, tuple[float, Listing]] = {}
_roots: dict[str, tuple[float, str]] = {}


def _fresh(table: dict[str, tuple[float, T]], key: str, make: Callable[[str], T]) -> T:
    """``table[key]`` if made less than ``CACHE_SECONDS`` ago, else ``make(key)`` (kept for next time)."""
    now = time.monotonic()
    with _lock:
        cached = table.get(key)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    value = make(key)
    with _lock:
        table[key] = (now, value)
    return value


def vault_root(folder: str) -> str:
    """The nearest folder at or above ``folder`` holding ``.obsidian/``, else ``folder`` itself."""
    return _fresh(_roots, folder, _find_root)


def _find_root(folder: str) -> str:
    root, current = folder, folder
    for _ in range(MAX_ASCENT):
        if os.path.isdir(os.path.join(current, ".obsidian")):
            root = current
            break
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return root


def listing(root: str) -> Listing:
    """The vault's file names (hidden folders such as .obsidian and .trash left out), cached briefly."""
    return _fresh(_listings, root, _list)


def _list(root: str) -> Listing:
    found = Listing(root)
    count = 0
    for folder, dirs, files in os.walk(root, onerror=lambda _exc: None):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or count >= MAX_LISTED_FILES:
                continue
            count += 1
            rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            lower = name.lower()
            found.by_name.setdefault(lower, []).append(rel)
            stem, suffix = os.path.splitext(lower)
            if suffix in _NOTE_SUFFIXES:
                found.by_stem.setdefault(stem, []).append(rel)
                found.by_path.setdefault(os.path.splitext(rel.lower())[0], rel)
            found.by_path.setdefault(rel.lower(), rel)
        if count >= MAX_LISTED_FILES:
            break
    return found


def resolve(target: str, note_folder: str, vault: Listing) -> str | None:
    """The absolute path of the file a link target names, or None; like Obsidian, by name, ignoring case.

    Several files of that name: the one in the note's own folder, else the one nearest the vault root.
    """
    wanted = target.strip().replace("\\", "/").strip("/").lower()
    if not wanted:
        return None
    if "/" in wanted:
        rel = vault.by_path.get(wanted)
        return os.path.join(vault.root, rel) if rel else None
    candidates = vault.by_name.get(wanted) or vault.by_stem.get(wanted)
    if not candidates:
        return None
    here = os.path.relpath(note_folder, vault.root).replace(os.sep, "/")
    here = "" if here == "." else here

    def rank(rel: str) -> tuple[int, int, str]:
        return (0 if os.path.dirname(rel) == here else 1, rel.count("/"), rel)

    return os.path.join(vault.root, min(candidates, key=rank))


def embed_targets(text: str) -> list[str]:
    """The notes ``text`` embeds (``![[Note]]``, ``![[Note#Section]]``), outside code, in order."""
    found: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence:
            if line.lstrip().startswith(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        if "![[" not in line:
            continue
        for match in _EMBED.finditer(_CODE_SPAN.sub("", line)):
            name = match.group(1).partition("|")[0].partition("#")[0].strip()
            if name:
                found.append(name)
    return list(dict.fromkeys(found))


def _is_note(path: str) -> bool:
    return path.lower().endswith(_NOTE_SUFFIXES)


def _read_embeds(path: str) -> list[str]:
    try:
        if os.path.getsize(path) > MAX_NOTE_BYTES:
            return []
        with open(path, "rb") as handle:
            return embed_targets(handle.read().decode("utf-8", errors="replace"))
    except OSError:
        return []


def embed_cycle(note: str, first_embeds: list[str], vault: Listing) -> list[str] | None:
    """The first chain of embeds that comes back to a note already on it (``[A, B, C, A]``), or None.

    Depth-first over embedded notes, bounded in depth and in notes read, with a visited set: a cycle
    is reported, never followed.
    """
    done: set[str] = set()
    reads = 0

    def walk(path: str, targets: list[str], chain: list[str]) -> list[str] | None:
        nonlocal reads
        if len(chain) > MAX_EMBED_DEPTH:
            return None
        folder = os.path.dirname(path)
        for target in targets:
            found = resolve(target, folder, vault)
            if found is None or not _is_note(found):
                continue
            key = os.path.normcase(found)
            if key in chain:
                return [*chain[chain.index(key):], key]
            if key in done or reads >= MAX_EMBED_NOTES:
                continue
            reads += 1
            cycle = walk(found, _read_embeds(found), [*chain, key])
            if cycle:
                return cycle
            done.add(key)
        return None

    start = os.path.normcase(note)
    return walk(note, first_embeds, [start])


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def resolve_note_links(path: Path, doc: Document, links: list[str], embeds: list[str]) -> None:
    """Record in ``doc.meta`` where the note's links and embeds lead (paths relative to the note's folder,
    ``"; "``-joined) and any embed cycle (``"Note A → Note B → Note A"``). A note not on disk resolves nothing."""
    if not path.is_absolute():  # an item read through a connector (bytes under a made-up name): no vault
        return
    note = os.path.abspath(path)
    folder = os.path.dirname(note)
    if not os.path.isdir(folder):
        return
    vault = listing(vault_root(folder))
    for key, targets in (("links", links), ("embeds", embeds)):
        found = [resolve(t, folder, vault) for t in targets]
        rels = [os.path.relpath(f, folder).replace(os.sep, "/") for f in found if f]
        if rels:
            doc.meta[key] = "; ".join(dict.fromkeys(rels))
    if embeds:
        cycle = embed_cycle(note, embeds, vault)
        if cycle:
            doc.meta["embed_cycle"] = " → ".join(_stem(p) for p in cycle)
