"""A connector for a recipe box: one JSON file ``{"name": "Title: ...\\nStep 1: ..."}`` whose recipes are items.

A source is ``recipebox:///path/to/box.json``; a recipe's key is ``recipebox:///path/to/box.json/<name>``. Its
bytes are the card's text (parsed by ``RecipeParser`` through the ``text/x-recipe`` media type); changes are found
by polling the file's modification time.
"""

from __future__ import annotations

import errno
import json
import mimetypes
import os
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

from ragd.connectors import Connector, Entry, SourceContext
from ragd.index.errors import SourceError, SourceUnavailable

MEDIA_TYPE = "text/x-recipe"
mimetypes.add_type(MEDIA_TYPE, ".recipe")


class RecipeBoxConnector:
    kind: ClassVar[str] = "recipebox"
    schemes: ClassVar[tuple[str, ...]] = ("recipebox",)

    def __init__(self, spec: str) -> None:
        self.root = spec.rstrip("/")
        self.file = unquote(urlsplit(spec).path)
        self.poll_s: float | None = 0.5
        self._seen: int | None = None

    @classmethod
    def open(cls, spec: str, context: SourceContext) -> Connector:
        return cls(spec)

    def probe(self) -> None:
        if not os.path.isfile(self.file):
            raise SourceError(f"no recipe box at {self.file}")

    def _box(self) -> dict[str, Any]:
        try:
            with open(self.file, encoding="utf-8") as f:
                return dict(json.load(f))
        except OSError as exc:
            raise SourceUnavailable(f"cannot read the recipe box: {exc.strerror}") from None

    def scan(self) -> Iterator[Entry]:
        mtime = os.stat(self.file).st_mtime_ns if os.path.exists(self.file) else 0
        for name, text in self._box().items():
            yield Entry(f"{self.root}/{quote(name)}", len(text.encode()), mtime, media_type=MEDIA_TYPE)

    def covers(self, key: str) -> bool:
        return key == self.root or key.startswith(self.root + "/")

    def is_container(self, key: str) -> bool:
        return key == self.root

    def scan_under(self, key: str) -> Iterator[Entry]:
        if key == self.root:
            yield from self.scan()

    def entry(self, key: str) -> Entry | None:
        return next((e for e in self.scan() if e.path == key), None)

    def read(self, key: str) -> bytes:
        text = self._box().get(unquote(key.rsplit("/", 1)[1]))
        if text is None:
            raise OSError(errno.ENOENT, "no such recipe", key)
        return str(text).encode()

    def local_path(self, key: str) -> str | None:
        return None

    def changed(self) -> bool:
        mtime = os.stat(self.file).st_mtime_ns if os.path.exists(self.file) else None
        before, self._seen = self._seen, mtime
        return before != mtime

    def close(self) -> None:
        pass
