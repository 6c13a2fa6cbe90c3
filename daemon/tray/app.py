"""The tray / menu-bar icon: the daemon's state at a glance, and a menu to ask, pause, and start or stop it.

The tray talks to the daemon only through its HTTP API (``DaemonClient``), polling ``GET /v1/status``
every two seconds. All but this module works without a display:

- ``tray_view``: :func:`view_of` turns a status (or "no daemon") into a :class:`View`: the state (idle,
  indexing, paused, error), the tooltip, the progress and the recent problems; :func:`draw_icon` draws the
  state as a round glyph with Pillow (no image files);
- ``tray_model``: :class:`TrayModel` keeps the connection, builds the menu as data (:class:`Entry`) and
  performs its actions through an injected client factory, :class:`Launcher` and URL opener;
- ``tray_launcher``: :class:`DaemonLauncher` starts and stops the daemon (its service, or ``ragd serve``);
- here, :class:`Tray` is the thin pystray glue; :func:`load_pystray` imports pystray only when a display is
  there.

pystray backends: ``win32`` on Windows and ``darwin`` (a menu-bar item) on macOS show the whole menu.
On Linux pystray tries ``appindicator`` and ``gtk`` (both need PyGObject, which a virtualenv usually
lacks) and then ``xorg``, a plain XEmbed tray icon that has no menu of its own: there a left click
runs the default item, "Ask…" (which starts the daemon first if it is not running), and a right click
pops the same menu up with Tk when tkinter is installed. Set ``PYSTRAY_BACKEND`` to choose a backend.
The menu is always defined in full (``pystray.Menu``), so backends with menus show it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

from ragd.daemon.config import Config
from ragd.daemon.tray.launcher import DaemonLauncher
from ragd.daemon.tray.model import SEPARATOR, Client, Entry, TrayModel
from ragd.daemon.tray.popup import TkPopup, Worker
from ragd.daemon.tray.view import View, draw_icon
from ragd.index.errors import RagdError

log = logging.getLogger(__name__)

POLL_S = 2.0

def load_pystray(environ: Mapping[str, str], platform: str = sys.platform) -> ModuleType:
    """Import pystray (it connects to the display on import) or say in one line why there is no tray."""
    if platform not in ("darwin", "win32") and not (environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")):
        raise RagdError("no display: the tray needs a desktop session (DISPLAY and WAYLAND_DISPLAY are not set)")
    try:
        import pystray
    except Exception as exc:  # ImportError, or Xlib's display errors from the xorg backend's import
        detail = "pystray: " + (" ".join(str(exc).split()) or type(exc).__name__)
        if platform not in ("darwin", "win32") and not environ.get("DISPLAY"):
            detail = f"Wayland without X11: the tray needs XWayland (DISPLAY) or PyGObject; {detail}"
        raise RagdError(f"no display: the tray needs a desktop session ({detail})") from None
    module: ModuleType = pystray
    return module


def _quiet_dock_failures(record: logging.LogRecord) -> bool:
    """pystray logs a traceback each time its xorg icon finds no system tray; the tray says it once."""
    return record.getMessage() != "Failed to dock icon"


def _backend_name(pystray: ModuleType) -> str:
    """The backend pystray chose: ``xorg``, ``gtk``, ``appindicator``, ``darwin``, ``win32`` (or ``dummy``)."""
    return str(pystray.Icon.__module__).rsplit(".", 1)[-1].lstrip("_")


class Tray:
    """The pystray glue: one icon whose image, title and menu follow :class:`TrayModel`."""

    def __init__(self, model: TrayModel, pystray: ModuleType, poll_s: float = POLL_S) -> None:
        self.model = model
        self.pystray = pystray
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._worker = Worker()
        self._shown: tuple[Any, ...] = ()
        self._menu_shown: list[Entry] = []
        model.on_quit = self.quit
        model.refresh()
        self.backend = _backend_name(pystray)
        self.icon: Any = pystray.Icon("ragd", self._image(model.view), self._title(model.view),
                                      menu=pystray.Menu(self._items))
        self.popup: TkPopup | None = None
        self._dock_retry_at, self._dock_warned = 0.0, False
        if self.backend == "xorg":
            logging.getLogger("pystray._base").addFilter(_quiet_dock_failures)
            self._xorg_clicks()
            self._xorg_dock_once()
        self.ready = threading.Event()
        self._finished = threading.Event()

    # -- the menu, rebuilt from the model each time a backend asks -----------------------------------
    def _items(self) -> Iterator[Any]:
        for entry in self.model.menu():
            yield self._item(entry)

    def _item(self, entry: Entry) -> Any:
        ps = self.pystray
        if entry is SEPARATOR:
            return ps.Menu.SEPARATOR
        if entry.children:
            return ps.MenuItem(entry.text, ps.Menu(*(self._item(c) for c in entry.children)), enabled=entry.enabled)
        return ps.MenuItem(entry.text, self._action(entry.key), enabled=entry.enabled, default=entry.default)

    def _action(self, key: str) -> Callable[[Any, Any], None]:
        def run(icon: Any, item: Any) -> None:
            self.choose(key)

        return run

    def choose(self, key: str) -> None:
        """A menu item was chosen: Quit at once, anything else on the worker thread."""
        if key == "quit":
            self.quit()
        else:
            self._worker.submit(lambda: self._act(key))

    def _act(self, key: str) -> None:
        self.model.act(key)
        self._wake.set()

    def _xorg_clicks(self) -> None:
        """pystray's xorg icon handles button presses but never selects them on its window, so a click
        would never arrive: select them here. A left click runs the default item (Ask…); a right click
        pops up the menu with Tk, since the xorg backend has no menu of its own."""
        try:
            import Xlib.X

            icon = self.icon
            mask = Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask
            icon._window.change_attributes(event_mask=mask)
            icon._display.flush()
            if TkPopup.available():
                self.popup = popup = TkPopup(self.model.menu, self.choose)
                left = icon._message_handlers[Xlib.X.ButtonPress]

                def on_press(event: Any) -> None:
                    if event.detail == 3:
                        popup.popup(event.root_x, event.root_y)
                    else:
                        left(event)

                icon._message_handlers[Xlib.X.ButtonPress] = on_press
        except Exception:  # a pystray that changed inside: clicks may not work, the icon still does
            log.warning("could not enable clicks on the xorg tray icon", exc_info=True)

    def _xorg_dock_once(self) -> None:
        """pystray's xorg icon asks the tray to dock it again on every image change, and a tray such as
        trayer then re-embeds it in a new socket each time: the icon flickers and a click in between is
        lost. Ask only while undocked (at start, and after the tray went away: pystray clears the
        manager when the tray's window is destroyed)."""
        icon = self.icon
        try:
            dock, _manager = icon._dock_window, icon._systray_manager  # both, or pystray changed inside

            def assert_docked() -> None:
                if icon._systray_manager is None:
                    dock()
                if icon._systray_manager is None:  # pystray's callers catch this: no tray yet, dock later
                    raise AssertionError("no system tray to dock in")

            icon._assert_docked = assert_docked
        except AttributeError:  # a pystray that changed inside: it re-docks as before
            log.warning("could not keep the xorg tray icon docked", exc_info=True)

    # -- running ---------------------------------------------------------------------------------
    def run(self) -> None:
        """Show the icon and block until Quit (pystray wants the main thread on macOS)."""
        if self.backend == "xorg":
            threading.Thread(target=self._xorg_heartbeat, name="ragd-tray-heartbeat", daemon=True).start()
        try:
            self.icon.run(setup=self._setup)
        finally:
            self._finished.set()

    def _setup(self, icon: Any) -> None:
        icon.visible = True
        threading.Thread(target=self._poll, name="ragd-tray-poll", daemon=True).start()
        self.ready.set()
        if self._stop.is_set():  # Quit (or a signal) came before the loop ran
            icon.stop()

    def _poll(self) -> None:
        on_gui = _main_thread_caller(self.backend)
        while not self._stop.is_set():
            try:
                view = self.model.refresh()
                on_gui(functools.partial(self._show, view))
                if self.backend == "xorg":
                    self._xorg_dock()
            except Exception:
                log.exception("updating the tray icon failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _xorg_dock(self) -> None:
        """pystray's xorg icon docks when shown (and on an image change while undocked, see
        :meth:`_xorg_dock_once`); a tray that appears later (a panel that starts after the tray at login,
        or restarts) would never get it. Retry every few seconds while undocked."""
        icon, now = self.icon, time.monotonic()
        if icon._systray_manager is not None or not icon.visible or now < self._dock_retry_at:
            return
        self._dock_retry_at = now + 5.0
        icon._show()  # runs on the icon's loop; docks if a system tray is there now
        if icon._systray_manager is None and not self._dock_warned:
            log.warning("no system tray on this display yet; the icon appears when one starts")
            self._dock_warned = True

    def _title(self, view: View) -> str:
        if self.backend == "xorg":  # the window name is a latin-1 STRING property there
            return view.title.replace("…", "...").encode("latin-1", "replace").decode("latin-1")
        return view.title

    def _image(self, view: View) -> Image.Image:
        image = draw_icon(view.state, view.progress)
        if self.backend == "xorg":  # it drops the alpha channel: blend the edges onto black ourselves
            return Image.alpha_composite(Image.new("RGBA", image.size, (0, 0, 0, 255)), image).convert("RGB")
        return image

    def _show(self, view: View) -> None:
        if self._stop.is_set():
            return
        # the progress arc moves in 5 % steps, so a long batch redraws the icon at most 20 times
        shown = (view.state, None if view.progress is None else round(view.progress * 20))
        if shown != self._shown:
            self.icon.icon = self._image(view)
            self._shown = shown
        title = self._title(view)
        if title != self.icon.title:
            self.icon.title = title
        menu = self.model.menu()
        if menu != self._menu_shown:
            self._menu_shown = menu
            self.icon.update_menu()

    def quit(self) -> None:
        """Take the icon away (the daemon keeps running)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        self._worker.close()
        if self.popup is not None:
            self.popup.close()
        self.icon.stop()
        self.model.close()

    def _xorg_heartbeat(self) -> None:
        """Keep pystray's xorg loop honest. It shares one python-xlib display between threads (its event
        loop, and whoever changes the icon), and python-xlib's threading loses work in two ways: a flush
        that returns early while another thread is mid-send leaves a request unsent (a redraw, or the
        destroy that ends the loop on Quit), and an event read by another thread may not wake the loop
        (a click that does nothing until the next event). So, a few times a second, send the icon's
        window a no-op message (the loop wakes and handles whatever is queued) and flush."""
        icon = self.icon
        try:
            wake = icon._display.intern_atom("_RAGD_TRAY_WAKE")
        except Exception:
            log.warning("no heartbeat for the xorg tray icon", exc_info=True)
            return
        while not self._finished.wait(0.25):
            with contextlib.suppress(Exception):
                if not self._stop.is_set():  # after Quit the window is going away: flush only
                    icon._send_message(icon._window, wake)
                icon._display.flush()


def _main_thread_caller(backend: str) -> Callable[[Callable[[], None]], None]:
    """How the poll thread changes the icon: AppKit wants the main thread (pystray's darwin backend does
    not move there itself); the other backends hand changes to their own loop, so a direct call will do."""
    if backend == "darwin":
        try:
            from PyObjCTools import AppHelper  # pyobjc, which pystray needs on macOS

            def call_after(job: Callable[[], None]) -> None:
                AppHelper.callAfter(job)

            return call_after
        except ImportError:
            pass
    return lambda job: job()


def _single_instance(config: Config) -> Any:
    """Hold ``<state>/tray.lock`` while the tray runs: a second ``ragd tray`` says so and exits."""
    try:
        from ragd.index.lock import hold_lock  # fcntl; the lock file is never opened through a link
    except ImportError:  # Windows: no lock, a second tray is merely a second icon
        return None
    return hold_lock(config.state_dir / "tray.lock", "the tray is already running (pid {holder})")


def connector(config: Config, timeout: float = 10.0) -> Callable[[], Client | None]:
    """A factory of the running daemon's ``Service`` (None when there is none)."""
    def connect() -> Client | None:
        from ragd.daemon.service.remote import RemoteService

        return RemoteService.find(config, timeout)

    return connect


def run_tray(config: Config, environ: Mapping[str, str], poll_s: float = POLL_S) -> None:
    """``ragd tray``: show the icon until Quit (or SIGINT / SIGTERM)."""
    pystray = load_pystray(environ)
    lock = _single_instance(config)
    try:
        model = TrayModel(connector(config), DaemonLauncher(config, Path.home()))
        try:
            tray = Tray(model, pystray, poll_s)
        except Exception as exc:  # the backend failed to create its window: still "no display" to the user
            raise RagdError(f"no display: the tray could not create its icon ({exc})") from None
        log.info("tray icon through pystray's %s backend", tray.backend)

        def on_signal(signum: int, frame: Any) -> None:
            threading.Thread(target=tray.quit, daemon=True).start()  # not in the handler: X may hold a lock

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, on_signal)
        tray.run()
    finally:
        if lock is not None:
            os.close(lock)
