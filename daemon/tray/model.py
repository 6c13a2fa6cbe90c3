"""The tray without a display: :class:`TrayModel` keeps the connection to the daemon, builds the menu as
data (:class:`Entry`) and performs its actions through an injected client factory, :class:`Launcher` and
URL opener."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from ragd.daemon.tray.view import NOT_RUNNING, View, shorten, view_of
from ragd.index.errors import RagdError

log = logging.getLogger(__name__)

T = TypeVar("T")
START_WAIT_S = 180.0  # how long "Ask…" waits for a daemon it started before giving up
NOTICE_S = 30.0  # how long an action's failure stays in the tooltip

class Client(Protocol):
    """What the tray needs of the running daemon's ``Service`` (``RemoteService``)."""

    url: str | None

    def status(self) -> dict[str, Any]: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def page_link(self, next_path: str) -> str: ...

    def close(self) -> None: ...


class Launcher(Protocol):
    """Starts and stops the daemon; each returns a short description of what it did."""

    def start(self) -> str: ...

    def stop(self) -> str: ...


@dataclass(frozen=True)
class Entry:
    """One menu item as data; ``key`` names the action (:meth:`TrayModel.act`)."""

    key: str
    text: str
    enabled: bool = True
    default: bool = False
    children: tuple[Entry, ...] = ()


SEPARATOR = Entry("-", "-")


@dataclass
class _Pending:
    next: str
    until: float


class TrayModel:
    """The tray without a display: polls the daemon, says what to show, does what the menu asks."""

    def __init__(self, connect: Callable[[], Client | None], launcher: Launcher,
                 open_url: Callable[[str], bool] = webbrowser.open, clock: Callable[[], float] = time.monotonic,
                 on_quit: Callable[[], None] = lambda: None) -> None:
        self.connect = connect
        self.launcher = launcher
        self.open_url = open_url
        self.clock = clock
        self.on_quit = on_quit
        self.view = view_of(None)
        self.notice: str | None = None  # the last action's failure, shown in the tooltip for a while
        self._notice_until = 0.0
        self._client: Client | None = None
        self._pending: _Pending | None = None  # a page to open once the daemon it started answers
        self._starting_until = 0.0
        self._lock = threading.RLock()

    # -- state ---------------------------------------------------------------------------------
    def refresh(self) -> View:
        """Ask the daemon for its status (connecting first if needed) and return the new view."""
        url = None
        with self._lock:
            status, reason = self._status()
            view = view_of(status, reason)
            now = self.clock()
            pending = self._pending
            if pending is not None and (view.running or now >= pending.until):
                self._pending = None
                if view.running:
                    url = self._try(pending.next, lambda: self._link(pending.next))
                else:
                    self._say("the daemon did not start; see its log")
            if not view.running and now < self._starting_until:
                view = replace(view, title="ragd: starting the daemon…")
            elif view.running:
                self._starting_until = 0.0
            self.view = self._with_notice(view)
        if url is not None:
            self._browse(url)
        return self.view

    def _with_notice(self, view: View) -> View:
        if self.notice and self.clock() >= self._notice_until:
            self.notice = None
        return replace(view, title=shorten(f"{view.title} — {self.notice}")) if self.notice else view

    def _status(self) -> tuple[dict[str, Any] | None, str | None]:
        client = self._client
        if client is None:
            client = self._client = self.connect()
            if client is None:
                return None, None
        try:
            status = client.status()
        except RagdError as exc:
            self._drop()
            return None, str(exc)
        return (status, None) if isinstance(status, dict) else (None, "an unexpected answer to /v1/status")

    def _drop(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    # -- the menu ------------------------------------------------------------------------------
    def menu(self) -> list[Entry]:
        """The menu for the current view; texts and enabled flags follow the state."""
        view = self.view
        running = view.running
        problems = tuple(Entry("problem", p, enabled=False) for p in view.problems) or (
            Entry("problem", "No problems", enabled=False),)
        return [
            Entry("ask", "Ask…", default=True),
            Entry("resume", "Resume indexing", enabled=running) if view.paused
            else Entry("pause", "Pause indexing", enabled=running),
            Entry("sources", "Sources…", enabled=running),
            Entry("problems", "Recent problems", enabled=running, children=problems),
            SEPARATOR,
            Entry("stop", "Stop the daemon") if running else Entry("start", "Start the daemon"),
            SEPARATOR,
            Entry("quit", "Quit"),
        ]

    def act(self, key: str) -> None:
        """Do what the menu item ``key`` says; a failure becomes a notice in the tooltip, never an exception."""
        if key in ("ask", "sources"):
            with self._lock:
                url = self._try(key, lambda: self.open_page(f"/#{key}"))
            if url is not None:  # outside the lock: a browser may take its time (or not return at all)
                self._browse(url)
            return
        actions: dict[str, Callable[[], None]] = {
            "pause": lambda: self._then_refresh(self._need_client().pause),
            "resume": lambda: self._then_refresh(self._need_client().resume),
            "start": self.start_daemon, "stop": self.stop_daemon, "quit": self.on_quit,
        }
        action = actions.get(key)
        if action is not None:
            with self._lock:
                self._try(key, action)

    def _try(self, what: str, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except (RagdError, OSError, subprocess.SubprocessError, KeyError, TypeError) as exc:
            log.warning("%s failed: %s", what, exc)
            self._say(f"{what} failed: {exc}")
            return None

    # -- actions -------------------------------------------------------------------------------
    def open_page(self, next_path: str) -> str | None:
        """The one-time link to the web page at ``next_path``; with no daemon, start it and return None
        (:meth:`refresh` opens the page once it answers)."""
        if self._client is None:
            self._client = self.connect()
        if self._client is not None:
            return self._link(next_path)
        self.start_daemon()
        self._pending = _Pending(next_path, self.clock() + START_WAIT_S)
        return None

    def _link(self, next_path: str) -> str:
        return self._need_client().page_link(next_path)

    def _browse(self, url: str) -> None:
        try:
            opened = self.open_url(url)
        except Exception as exc:  # webbrowser raises little, but a custom opener might
            log.warning("opening the web page failed: %s", exc)
            opened = False
        if not opened:
            with self._lock:
                self._say("no web browser could be started")

    def _then_refresh(self, action: Callable[[], None]) -> None:
        action()
        self.refresh()

    def _need_client(self) -> Client:
        if self._client is None:
            self._client = self.connect()
        if self._client is None:
            raise RagdError(NOT_RUNNING)
        return self._client

    def start_daemon(self) -> None:
        log.info("%s", self.launcher.start())
        self._starting_until = self.clock() + START_WAIT_S

    def stop_daemon(self) -> None:
        self._pending, self._starting_until = None, 0.0
        log.info("%s", self.launcher.stop())
        self._drop()

    def _say(self, text: str) -> None:
        self.notice = text
        self._notice_until = self.clock() + NOTICE_S


# -- starting and stopping the daemon ----------------------------------------------------------------
