"""The records the application interface returns that the index layer does not define, each with one JSON
shape (hits, answers and index runs are ``Hit``, ``Answer`` and ``IndexStats``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceInfo:
    """A source folder (or file) and how it stands."""

    path: str
    exists: bool
    files: int  # indexed, failed or skipped files under it
    from_config: bool = False  # listed in the config file (removed there, not through ragd)
    watched: bool = True
    problem: str | None = None  # why it is not watched

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceInfo:
        return cls(path=data["path"], exists=bool(data["exists"]), files=int(data["files"]),
                   from_config=bool(data.get("from_config", False)), watched=bool(data.get("watched", True)),
                   problem=data.get("problem"))


@dataclass
class RepairReport:
    """The stores found damaged and rebuilt, and the index after the re-index that followed."""

    repairs: list[dict[str, Any]] = field(default_factory=list)  # {"store", "problem", "action", "moved_to"}
    indexed: int = 0
    failed: int = 0
    chunks: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
