"""How the indexer reaches an item: its content's identity and its parse job, through the connector that holds it.

A local file is hashed and handed to a parser worker by path (the worker reads it: its bytes are not copied
through this process); any other item is read through its connector and its bytes are handed over. A connector's
fingerprint (an IMAP message's UIDVALIDITY and UID) stands for the hash, so such an item is read once, to parse.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from ragd.connectors import Connector, Entry
from ragd.index.isolate import Job, ParseJob


def file_hash(path: str) -> str:
    h = hashlib.sha256()
    # Regular files only, opened without blocking: a FIFO swapped in since the scan would hang the writer.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Items:
    def __init__(self, sources: Sequence[Connector]) -> None:
        self.sources = sources

    def owner(self, key: str) -> Connector | None:
        return next((c for c in self.sources if c.covers(key)), None)

    def digest(self, entry: Entry) -> str:
        """The content's identity: the connector's fingerprint, else the hash of the bytes."""
        if entry.fingerprint is not None:
            return entry.fingerprint
        owner = self.owner(entry.path)
        local = owner.local_path(entry.path) if owner is not None else entry.path
        if local is not None:
            return file_hash(local)
        return hashlib.sha256(self._read(owner, entry.path)).hexdigest()

    def job(self, entry: Entry) -> Job:
        """What a parser worker is given: a local file's path, or the item's bytes read now (OSError if they
        cannot be read)."""
        owner = self.owner(entry.path)
        local = owner.local_path(entry.path) if owner is not None else entry.path
        if local is not None and entry.media_type is None:
            return Path(local)
        return ParseJob(entry.parse_name, self._read(owner, entry.path))

    @staticmethod
    def _read(owner: Connector | None, key: str) -> bytes:
        if owner is None:
            raise OSError(errno.ENOENT, "no source holds it any more", key)
        return owner.read(key)
