"""Damaged stores: found before they are used, moved aside and rebuilt, never a crash or a silent lie.

- The catalog (SQLite) is checked with ``PRAGMA quick_check`` in a connection of its own. A damaged
  one is moved aside (with its WAL) and replaced by an empty one holding the sources that could still
  be read from it; the next scan indexes the files again, mostly from the embedding cache, so nothing
  is embedded twice. The question history lives in its own file and is kept.
- The embedded vector store (Chroma) runs native code that can crash the process on a damaged graph
  file (SIGSEGV, no message). So it is opened first in a child process that counts, lists and queries
  every collection: a crash there becomes a sentence. A damaged store is moved aside, and the writer
  rebuilds it from the catalog and the embedding cache (``Indexer.reconcile_vectors``). A store that
  passed is not probed again until its files change (a fingerprint of names, sizes and times).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ragd.index.errors import RagdError

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 120.0
CHECKED_NAME = "chroma.checked"  # beside the store: the fingerprint of the files that last passed the probe
_CORRUPT_CODES = {getattr(sqlite3, "SQLITE_CORRUPT", 11), getattr(sqlite3, "SQLITE_NOTADB", 26)}
_CORRUPT_WORDS = ("malformed", "file is not a database", "database corruption")


class IndexDamaged(RagdError):
    """A store of the index is damaged; the daemon rebuilds it (``ragd repair`` does it on demand)."""


@dataclass(frozen=True)
class Repair:
    """What was found damaged and what was done about it (logged, in ``status`` and ``ragd repair``)."""

    store: str  # "catalog" | "vector store"
    problem: str
    action: str
    moved_to: str | None = None
    at: float = 0.0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def is_corruption(exc: BaseException) -> bool:
    """True for SQLite's "the file is damaged" errors (not for "locked" or "full")."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, sqlite3.DatabaseError) and (
                getattr(current, "sqlite_errorcode", None) in _CORRUPT_CODES
                or any(w in str(current).lower() for w in _CORRUPT_WORDS)):
            return True
        current = current.__cause__ or current.__context__
    return False


# -- the catalog -------------------------------------------------------------------------------------
def catalog_problem(path: Path) -> str | None:
    """Why the SQLite file at ``path`` cannot be trusted (None if it is sound or does not exist yet)."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(path, timeout=30)  # read-write: a leftover WAL is read as the stores will read it
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        return str(exc)
    finally:
        conn.close()
    found = [str(r[0]) for r in rows if str(r[0]) != "ok"]
    return "; ".join(found[:3]) + (f" (and {len(found) - 3} more)" if len(found) > 3 else "") if found else None


def salvage_sources(path: Path) -> list[tuple[str, str]]:
    """The sources (spec, kind) a damaged catalog still yields (none if even that table is unreadable)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            try:
                return [(str(r[0]), str(r[1])) for r in conn.execute("SELECT path, kind FROM sources")]
            except sqlite3.OperationalError:  # a catalog made before kinds: every source was a folder
                return [(str(r[0]), "files") for r in conn.execute("SELECT path FROM sources")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def move_aside(path: Path, *companions: str) -> Path:
    """Rename ``path`` (and ``path`` + each companion suffix, e.g. "-wal") to ``<name>.damaged-<time>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, target)
    for suffix in companions:
        extra = Path(f"{path}{suffix}")
        if extra.exists():
            os.replace(extra, Path(f"{target}{suffix}"))
    return target


# -- the vector store ---------------------------------------------------------------------------------
def vector_store_problem(path: Path, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why the embedded Chroma store at ``path`` cannot be used (None if it is sound, or empty)."""
    if not (path / "chroma.sqlite3").exists():
        return None
    fingerprint = _fingerprint(path)
    marker = path.parent / CHECKED_NAME
    try:
        if json.loads(marker.read_text(encoding="utf-8")).get("fingerprint") == fingerprint:
            return None
    except (OSError, ValueError, AttributeError):
        pass
    problem = _probe(path, timeout)
    if problem is None:
        with contextlib.suppress(OSError):  # a read-only data folder: probe again next time
            marker.write_text(json.dumps({"fingerprint": _fingerprint(path), "at": time.time()}), encoding="utf-8")
    return problem


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            h.update(f"{os.path.relpath(full, path)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _probe(path: Path, timeout: float) -> str | None:
    """Open, count, list and query every collection in a child process; its crash is reported, not shared."""
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    try:
        done = subprocess.run([sys.executable, "-m", "ragd.index.store.health", str(path)], env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"opening it did not finish within {timeout:.0f} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return f"opening it crashed the process ({name})"
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else f"the check exited with status {done.returncode}"


def _check_in_this_process(path: str) -> None:
    """The child's side of ``_probe``: touch every collection the way searches and scans do."""
    import chromadb
    import numpy as np
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False, allow_reset=False))
    for listed in client.list_collections():
        name = listed if isinstance(listed, str) else listed.name
        collection = client.get_collection(name, embedding_function=None)
        if not collection.count():
            continue
        collection.get(include=[])
        sample = collection.get(limit=1, include=["embeddings"])["embeddings"]
        if sample is not None and len(sample):
            collection.query(query_embeddings=np.asarray(sample[:1], dtype=np.float32), n_results=1,
                             include=["distances"])


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)
    _check_in_this_process(sys.argv[1])
