"""Paths as the index stores them (a light module: the CLI imports it on its quick path)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def resolve_paths(paths: Iterable[str]) -> list[str]:
    """Absolute, resolved, sorted and distinct."""
    return sorted({str(Path(p).expanduser().resolve()) for p in paths})
