"""Paths as the index stores them (a light module: the CLI imports it on its quick path)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def resolve_path(path: str | Path) -> str:
    """Absolute and resolved. ``~user`` for an unknown user stays as written (``Path.expanduser`` would raise)."""
    return str(Path(os.path.expanduser(path)).resolve())


def resolve_paths(paths: Iterable[str]) -> list[str]:
    """Absolute, resolved, sorted and distinct."""
    return sorted({resolve_path(p) for p in paths})
