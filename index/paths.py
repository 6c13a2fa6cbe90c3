"""Keys as the index stores them: a file's resolved absolute path, or an item's URL as its connector gives it
(a light module: the CLI imports it on its quick path)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit


def is_url(spec: str | Path) -> bool:
    """A key or source of the form ``scheme://...`` (a Windows drive letter is not a scheme)."""
    if isinstance(spec, Path):
        return False
    scheme = urlsplit(spec).scheme
    return len(scheme) > 1 and spec.startswith(f"{scheme}://")


def resolve_path(path: str | Path) -> str:
    """Absolute and resolved. ``~user`` for an unknown user stays as written (``Path.expanduser`` would raise).
    A URL (a source or item of another connector) is kept as written, less a trailing slash."""
    if is_url(path):
        return str(path).rstrip("/")
    return str(Path(os.path.expanduser(path)).resolve())


def resolve_paths(paths: Iterable[str]) -> list[str]:
    """Absolute, resolved, sorted and distinct."""
    return sorted({resolve_path(p) for p in paths})
