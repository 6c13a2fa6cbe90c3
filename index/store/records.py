"""The catalog's records: a file's manifest row, the light stat a re-scan compares, a stored chunk and its
vector ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from ragd.index.models import Chunk, Hit


@dataclass(frozen=True)
class FileRecord:
    path: str
    size: int
    mtime_ns: int
    hash: str | None
    status: str
    error: str | None
    chunk_count: int
    indexed_at: float

    def to_json(self) -> dict[str, Any]:
        """A file's status as every face shows it (``/v1/files``, ``/v1/documents``)."""
        return {**self.problem(), "size": self.size, "chunks": self.chunk_count, "indexed_at": self.indexed_at}

    def problem(self) -> dict[str, Any]:
        """``{"path", "status", "reason"}``: the shape of a file in every list of problems and failures."""
        return {"path": self.path, "status": self.status, "reason": self.error}


class FileStat(NamedTuple):
    """What a scan compares with the disk to tell an unchanged file (a light ``FileRecord``)."""

    size: int
    mtime_ns: int
    status: str
    error: str | None


FileStatRow = tuple[int, int, str, str | None]  # a FileStat's fields as a plain tuple (see ``file_stats``)


@dataclass(frozen=True)
class StoredChunk:
    id: str
    path: str
    embed_hash: str
    chunk: Chunk
    units: int = 1


def unit_ids(chunk_id: str, units: int) -> list[str]:
    """Vector ids of a chunk's embedding units."""
    return [f"{chunk_id}.{n}" for n in range(units)]


def chunk_of(unit_id: str) -> str:
    return unit_id.rsplit(".", 1)[0]


def stored_chunk(row: tuple[object, ...]) -> StoredChunk:
    cid, path, ordinal, embed_hash, text, doc_key, title, page, ls, le, heading, sheet, slide, ocr, units = row
    chunk = Chunk(text=str(text), doc_key=str(doc_key), title=title if title is None else str(title),
                  page=page, line_start=ls, line_end=le,  # type: ignore[arg-type]
                  heading=tuple(json.loads(str(heading))), ordinal=int(ordinal),  # type: ignore[call-overload]
                  sheet=sheet if sheet is None else str(sheet), slide=slide, ocr=bool(ocr))  # type: ignore[arg-type]
    return StoredChunk(str(cid), str(path), str(embed_hash), chunk, int(units))  # type: ignore[call-overload]


def hit_of(item: StoredChunk, score: float, dense: float | None = None) -> Hit:
    """A stored chunk as a search hit (a passage with its place)."""
    c = item.chunk
    return Hit(chunk_id=item.id, path=item.path, text=c.text, score=score, page=c.page, line_start=c.line_start,
               line_end=c.line_end, heading=c.heading, title=c.title, doc_key=c.doc_key, dense=dense, sheet=c.sheet,
               slide=c.slide, ocr=c.ocr)
