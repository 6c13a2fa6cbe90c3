"""Entry-point registries: how ragd finds the implementations of its seams, built in or installed.

Each seam is one entry-point group. ragd's own parsers, embedders, vector stores and LLM back-ends are
declared in its ``pyproject.toml`` exactly as another distribution declares its own, so adding a parser is one
module and one line::

    [project.entry-points."ragd.parsers"]
    recipes = "my_package.recipes:RecipeParser"

An entry point is read when its seam is first used (never at ``import ragd``); one that cannot be loaded is
logged and left out, so a broken extension cannot stop ragd, and naming it in the config says why it failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from ragd.index.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")

PARSERS = "ragd.parsers"  # a Parser class (made with no arguments)
EMBEDDERS = "ragd.embedders"  # a factory: model_cache (Path | None) -> Embedder
VECTOR_STORES = "ragd.vector_stores"  # a factory: (StoreSite, model_id) -> VectorStore
LLM_BACKENDS = "ragd.llm_backends"  # a factory: LLMSettings -> LLM
OWN_DISTRIBUTION = "ragd"


def names(group: str) -> list[str]:
    """The names declared in ``group`` by every installed distribution, loading none of them (cheap enough
    for checking a setting when the config is read)."""
    return sorted({ep.name for ep in entry_points(group=group)})


class Registry(Generic[T]):
    """The named implementations of one seam: every installed distribution's entry points in ``group``
    (ragd's own first, so that an extension may replace one), plus any added in this process."""

    def __init__(self, group: str, what: str, check: Callable[[Any], T] | None = None) -> None:
        self.group = group
        self.what = what  # "parser", "embedding model", ... for messages
        self.check = check  # turns a loaded object into a T, or raises TypeError saying why it is not one
        self._points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, T] = {}
        self._lock = threading.RLock()

    def _entry_points(self) -> dict[str, EntryPoint]:
        with self._lock:
            if self._points is None:
                found = sorted(entry_points(group=self.group),
                               key=lambda ep: (ep.dist is None or ep.dist.name != OWN_DISTRIBUTION, ep.name))
                self._points = {}
                for ep in found:  # an extension's entry point of the same name replaces ragd's own
                    self._points[ep.name] = ep
            return self._points

    def names(self) -> list[str]:
        with self._lock:
            return sorted(set(self._entry_points()) | set(self._loaded))

    def add(self, name: str, item: T) -> None:
        """Register ``item`` in this process (a test, or code that embeds ragd)."""
        with self._lock:
            self._loaded[name] = item

    def get(self, name: str) -> T:
        """The implementation named ``name``; a ``ConfigError`` saying what there is when there is none."""
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            point = self._entry_points().get(name)
            if point is None:
                raise ConfigError(f"unknown {self.what} {name!r}; choose one of {', '.join(self.names())}")
            try:
                item = self._load(point)
            except Exception as exc:
                raise ConfigError(f"the {self.what} {name!r} ({point.value}) cannot be loaded: "
                                  f"{type(exc).__name__}: {exc}") from exc
            self._loaded[name] = item
            return item

    def all(self) -> dict[str, T]:
        """Every implementation that loads, in registration order (ragd's own first); the others are logged."""
        out: dict[str, T] = {}
        for name in list(self._entry_points()):
            try:
                out[name] = self.get(name)
            except ConfigError as exc:
                log.warning("%s; left out", exc)
        with self._lock:
            out.update((name, item) for name, item in self._loaded.items() if name not in out)
        return out

    def _load(self, point: EntryPoint) -> T:
        obj = point.load()
        return self.check(obj) if self.check is not None else obj
