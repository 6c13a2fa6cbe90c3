"""The file watcher: a watchdog observer over every source, feeding changed paths to the queue.

Events are only hints: the writer looks at the disk again (stat, hash) before it changes
anything, and the periodic reconcile scan catches whatever the events missed (a full inotify
watch table, a network drive, a folder that appeared later). When the kernel's event queue
overflows, the watcher says so at once (``on_overflow``), so that a scan need not wait for the period.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable

import watchdog.events
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

log = logging.getLogger(__name__)

# The events that can mean content changed. Passed to the observer, they become the inotify mask, so
# the kernel does not queue an event for every file or folder anyone opens or reads, the daemon itself
# included. Without it, indexing a 50,000-file tree floods the 16,384-event queue: each overflow makes
# watchdog re-walk the whole tree to rebuild its watches, the walk opens every folder, which queues
# thousands more events, and the queue overflows again, with real changes lost each time.
# watchdog 7 reports chmod and touch (and, on Windows, a copy that keeps its mtime) as "attrib" events of
# their own classes; older versions report them as "modified". Every backend drops the events outside
# this list before they reach the handler: open and read events, and folder "modified" events (they only
# say that a file inside changed, and that file has its own event).
CONTENT_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
    *(getattr(watchdog.events, name) for name in ("FileAttribEvent", "DirAttribEvent")
      if hasattr(watchdog.events, name)),
]


# watchdog has no event for a kernel queue overflow: watchdog 7 logs a warning on these loggers (and rebuilds
# its watches), older versions drop it silently. Listening to that warning is the only hook there is; where
# it never comes, the periodic reconcile scan still catches what was lost.
WATCHDOG_LOGGER = "watchdog.observers"


class _OverflowListener(logging.Handler):
    def __init__(self, on_overflow: Callable[[], object]) -> None:
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class _Handler(FileSystemEventHandler):
    def __init__(self, sink: Callable[[list[str]], object], ignore: Callable[[str], bool]) -> None:
        self.sink = sink
        self.ignore = ignore

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = [os.fsdecode(event.src_path)]
        if event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        wanted = [p for p in paths if not self.ignore(p)]
        if wanted:
            self.sink(wanted)


class Watcher:
    """Keeps one recursive watch per source folder (a source that is a file: its folder, filtered)."""

    def __init__(self, sink: Callable[[list[str]], object], ignore: Callable[[str], bool] = lambda _: False,
                 observer_factory: Callable[[], BaseObserver] = Observer,
                 on_overflow: Callable[[], object] | None = None) -> None:
        self.observer = observer_factory()
        self._handler = _Handler(sink, ignore)
        self._overflow = _OverflowListener(on_overflow) if on_overflow else None
        self._watches: dict[str, ObservedWatch] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._overflow:
            logging.getLogger(WATCHDOG_LOGGER).addHandler(self._overflow)
        self.observer.start()

    def stop(self) -> None:
        if self._overflow:
            logging.getLogger(WATCHDOG_LOGGER).removeHandler(self._overflow)
        self.observer.stop()
        if self.observer.is_alive():
            self.observer.join(timeout=5)

    @property
    def problems(self) -> dict[str, str]:
        """Sources that could not be watched, with the reason (they are still rescanned periodically)."""
        with self._lock:
            return dict(self._failed)

    def watch(self, roots: Iterable[str]) -> None:
        """Watch exactly ``roots``: add the new ones, drop the others, retry the ones that failed."""
        wanted = set(roots)
        with self._lock:
            for root in sorted(set(self._watches) - wanted):
                self.observer.unschedule(self._watches.pop(root))
            self._failed = {r: why for r, why in self._failed.items() if r in wanted}
            for root in sorted(wanted - set(self._watches)):
                target, recursive = (root, True) if os.path.isdir(root) else (os.path.dirname(root), False)
                try:
                    if not os.path.exists(root):
                        raise FileNotFoundError(2, "no such file or folder")
                    self._watches[root] = self.observer.schedule(
                        self._handler, target, recursive=recursive, event_filter=CONTENT_EVENTS)
                    self._failed.pop(root, None)
                except OSError as exc:  # missing folder, or the inotify watch limit reached
                    reason = exc.strerror or str(exc)
                    if self._failed.get(root) != reason:
                        log.warning("cannot watch %s: %s (it is rescanned periodically instead)", root, reason)
                    self._failed[root] = reason
