"""Where documents come from. Every source implements the one small ``Connector`` protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Entry:
    """A file a connector found: where it is, its stat, and why it is skipped (if it is)."""

    path: str  # absolute
    size: int
    mtime_ns: int
    skip_reason: str | None = None


class Connector(Protocol):
    name: str

    def scan(self) -> Iterator[Entry]:
        """Every file under this source, once each."""
        ...

    def covers(self, path: str) -> bool:
        """True if ``path`` belongs to this source (whether or not it exists)."""
        ...

    def entry(self, path: str) -> Entry | None:
        """The entry for one path under this source, or None if it is gone or filtered out."""
        ...

    def scan_under(self, directory: str) -> Iterator[Entry]:
        """What ``scan`` would yield below ``directory`` (a folder inside this source)."""
        ...
