"""The tray's helpers around pystray: a worker that runs menu actions off the GUI thread, and the right-click
menu that pystray's xorg backend lacks (Tk, on a thread of its own)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Literal

from ragd.daemon.tray.model import SEPARATOR, Entry

log = logging.getLogger(__name__)


class Worker:
    """Runs menu actions one at a time off the GUI thread (a browser or an HTTP call must not freeze it)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="ragd-tray-actions", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def close(self) -> None:
        self._jobs.put(None)

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # act() reports user errors itself; anything else is a bug worth a log line
                log.exception("a tray action failed")


class TkPopup:
    """The menu for pystray's xorg backend, which has none: a right click on the icon pops it up with Tk
    (when tkinter is there). Tk lives on a thread of its own and is touched only from it."""

    def __init__(self, entries: Callable[[], list[Entry]], choose: Callable[[str], None]) -> None:
        self.entries = entries
        self.choose = choose
        self._requests: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._root: Any = None  # Tk state: touched only on the Tk thread
        self._shown: list[Any] = []

    @staticmethod
    def available() -> bool:
        try:
            import tkinter  # noqa: F401
        except ImportError:
            return False
        return True

    def popup(self, x: int, y: int) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ragd-tray-menu", daemon=True)
            self._thread.start()
        self._requests.put((x, y))

    def close(self) -> None:
        self._requests.put(None)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)  # Tk cleans up on its own thread

    def _loop(self) -> None:
        import gc
        import tkinter

        try:
            self._root = tkinter.Tk(className="ragd-menu")
        except tkinter.TclError:
            log.warning("no right-click menu: Tk cannot open the display", exc_info=True)
            return
        self._root.withdraw()
        self._root.after(0, self._check)
        try:
            self._root.mainloop()
        finally:  # Tk objects must die on the thread that made them, or Tcl aborts the process
            self._root, self._shown = None, []
            gc.collect()

    def _check(self) -> None:
        root = self._root
        try:
            request = self._requests.get_nowait()
        except queue.Empty:
            root.after(50, self._check)
            return
        if request is None:
            root.destroy()
            return
        while self._shown:
            self._shown.pop().destroy()
        menu = self._menu(root, self.entries())
        self._shown.append(menu)
        try:
            menu.tk_popup(*request)
        finally:
            menu.grab_release()
        root.after(50, self._check)

    def _menu(self, root: Any, entries: list[Entry]) -> Any:
        import tkinter

        menu = tkinter.Menu(root, tearoff=0)
        for entry in entries:
            state: Literal["normal", "disabled"] = "normal" if entry.enabled else "disabled"
            if entry is SEPARATOR:
                menu.add_separator()
            elif entry.children:
                menu.add_cascade(label=entry.text, menu=self._menu(menu, list(entry.children)), state=state)
            else:
                menu.add_command(label=entry.text, state=state, command=self._chooser(entry.key))
        return menu

    def _chooser(self, key: str) -> Callable[[], None]:
        return lambda: self.choose(key)
