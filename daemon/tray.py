"""The tray / menu-bar icon: the daemon's state at a glance, and a menu to ask, pause, and start or stop it.

The tray talks to the daemon only through its HTTP API (``DaemonClient``), polling ``GET /v1/status``
every two seconds. Everything but the last part of this module works without a display:

- :func:`view_of` turns a status (or "no daemon") into a :class:`View`: the state (idle, indexing,
  paused, error), the tooltip, the progress and the recent problems;
- :func:`draw_icon` draws the state as a round glyph with Pillow (no image files);
- :class:`TrayModel` keeps the connection, builds the menu as data (:class:`Entry`) and performs its
  actions through an injected client factory, :class:`Launcher` and URL opener;
- :class:`Tray` is the thin pystray glue; :func:`load_pystray` imports pystray only when a display is there.

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
import queue
import signal
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol, TypeVar

from PIL import Image, ImageDraw

from ragd.daemon import service_files as sf
from ragd.daemon.client import pid_alive
from ragd.daemon.config import Config
from ragd.daemon.security import read_daemon_file
from ragd.index.errors import RagdError

log = logging.getLogger(__name__)

State = Literal["idle", "indexing", "paused", "error"]
T = TypeVar("T")
STATES: tuple[State, ...] = ("idle", "indexing", "paused", "error")
POLL_S = 2.0
START_WAIT_S = 180.0  # how long "Ask…" waits for a daemon it started before giving up
NOTICE_S = 30.0  # how long an action's failure stays in the tooltip
MAX_PROBLEMS = 10
TITLE_MAX = 120  # Windows cuts tooltips at 128 characters

NOT_RUNNING = "the daemon is not running"


# -- the view: what a status means -----------------------------------------------------------------


@dataclass(frozen=True)
class View:
    state: State
    title: str  # the tooltip / menu-bar title
    running: bool  # the daemon answered
    paused: bool = False
    progress: float | None = None  # 0..1 while indexing a batch of known size
    problems: tuple[str, ...] = ()  # up to MAX_PROBLEMS lines for "Recent problems"


def _eta(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _line(path: str, reason: str | None) -> str:
    text = f"{Path(path).name or path}: {reason or 'failed'}"
    return text if len(text) <= 90 else text[:89] + "…"


def _problem_lines(status: Mapping[str, Any]) -> tuple[str, ...]:
    """The newest failures first, then the index's problems and unwatched folders; one line per path."""
    seen: dict[str, str] = {}
    indexing = status.get("indexing") or {}
    for failure in reversed(indexing.get("recent_failures") or []):
        path = str(failure.get("path", "?"))
        seen.setdefault(path, _line(path, failure.get("error") or failure.get("reason")))
    for problem in status.get("problems") or []:
        path = str(problem.get("path", "?"))
        seen.setdefault(path, _line(path, f"{problem.get('status', 'failed')}, {problem.get('reason') or '?'}"))
    for root, why in (status.get("unwatched") or {}).items():
        seen.setdefault(str(root), _line(str(root), f"not watched, {why}"))
    return tuple(seen.values())[:MAX_PROBLEMS]


def view_of(status: Mapping[str, Any] | None, reason: str | None = None) -> View:
    """The tray's view of ``GET /v1/status`` (None: no daemon; ``reason`` says why, if known)."""
    if status is None:
        title = f"ragd: cannot reach the daemon ({reason})" if reason else f"ragd: {NOT_RUNNING}"
        return View("error", _short(title), running=False)
    indexing: Mapping[str, Any] = status.get("indexing") or {}
    paused = bool(status.get("paused"))
    problems = _problem_lines(status)
    queued = int(indexing.get("queued") or 0)
    batch = indexing.get("batch") or {}
    done, total = int(batch.get("done") or 0), int(batch.get("total") or 0)
    if paused:
        waiting = f" ({queued} change{'s' * (queued != 1)} waiting)" if queued else ""
        return View("paused", f"ragd: indexing paused{waiting}", True, True, None, problems)
    work = indexing.get("state")
    if work in ("indexing", "scanning", "starting") or queued:
        if total:
            eta = indexing.get("eta_s")
            title = f"ragd: indexing {done}/{total}" + (f", ETA {_eta(float(eta))}" if eta is not None else "")
            return View("indexing", title, True, False, min(1.0, done / total), problems)
        if work in ("scanning", "starting"):
            what = "scanning your folders"
        else:
            what = f"{queued} change{'s' * (queued != 1)} queued" if queued else "indexing…"
        return View("indexing", f"ragd: {what}", True, False, None, problems)
    last_error = indexing.get("last_error")
    failed = int(status.get("failed") or 0)
    if last_error:
        return View("error", _short(f"ragd: indexing failed: {last_error}"), True, False, None, problems)
    if failed or status.get("unwatched"):
        what = f"{failed} file{'s' * (failed != 1)} could not be indexed" if failed else "a folder is not watched"
        return View("error", f"ragd: {what} (see Recent problems)", True, False, None, problems)
    indexed = int(status.get("indexed") or 0)
    return View("idle", f"ragd: up to date, {indexed:,} file{'s' * (indexed != 1)} indexed", True, False, None,
                problems)


def _short(title: str) -> str:
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


# -- the icon ---------------------------------------------------------------------------------------

COLOURS: dict[State, tuple[int, int, int]] = {
    "idle": (46, 160, 67),  # green
    "indexing": (33, 118, 210),  # blue, with a progress arc
    "paused": (128, 128, 128),  # grey, with two bars
    "error": (206, 44, 44),  # red, with an exclamation mark
}


def draw_icon(state: State, progress: float | None = None, size: int = 64) -> Image.Image:
    """A round glyph in the state's colour, drawn at 4x and scaled down (smooth edges), RGBA."""
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    pad = big // 16
    draw.ellipse((pad, pad, big - pad, big - pad), fill=(*COLOURS[state], 255))
    white = (255, 255, 255, 255)
    c, r = big / 2, big / 2 - pad
    if state == "idle":  # a ring: ready
        ring = r * 0.45
        draw.ellipse((c - ring, c - ring, c + ring, c + ring), outline=white, width=max(1, big // 14))
    elif state == "indexing":  # a faint track and an arc as long as the progress (a quarter when unknown)
        arc, width = r * 0.62, max(1, big // 10)
        box = (c - arc, c - arc, c + arc, c + arc)
        track = tuple(round(v + (255 - v) * 0.35) for v in COLOURS[state])  # solid: ImageDraw does not blend
        draw.ellipse(box, outline=(*track, 255), width=width)
        share = 0.25 if progress is None else max(0.02, min(1.0, progress))
        draw.arc(box, -90, -90 + 360 * share, fill=white, width=width)
    elif state == "paused":  # two bars
        w, h = r * 0.22, r * 0.9
        for x in (c - w * 1.6, c + w * 0.6):
            draw.rectangle((x, c - h / 2, x + w, c + h / 2), fill=white)
    else:  # "!"
        w = r * 0.22
        draw.rectangle((c - w / 2, c - r * 0.55, c + w / 2, c + r * 0.15), fill=white)
        draw.ellipse((c - w * 0.6, c + r * 0.3, c + w * 0.6, c + r * 0.3 + w * 1.2), fill=white)
    return image.resize((size, size), Image.Resampling.LANCZOS)


# -- the controller: connection, menu and actions -----------------------------------------------------


class Client(Protocol):
    """What the tray needs of ``DaemonClient``."""

    url: str

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...

    def post(self, path: str, body: Any = None) -> Any: ...

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
        return replace(view, title=_short(f"{view.title} — {self.notice}")) if self.notice else view

    def _status(self) -> tuple[dict[str, Any] | None, str | None]:
        client = self._client
        if client is None:
            client = self._client = self.connect()
            if client is None:
                return None, None
        try:
            status = client.get("/v1/status")
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
            "pause": lambda: self._post("/v1/pause"), "resume": lambda: self._post("/v1/resume"),
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
        client = self._need_client()
        url = str(client.post("/v1/session/link", {"next": next_path})["url"])
        return client.url.rstrip("/") + url if url.startswith("/") else url

    def _browse(self, url: str) -> None:
        try:
            opened = self.open_url(url)
        except Exception as exc:  # webbrowser raises little, but a custom opener might
            log.warning("opening the web page failed: %s", exc)
            opened = False
        if not opened:
            with self._lock:
                self._say("no web browser could be started")

    def _post(self, path: str) -> None:
        self._need_client().post(path)
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

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]
Spawner = Callable[..., subprocess.Popen[bytes]]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    from ragd.daemon.cli_service import run_command

    return run_command(argv)


@dataclass
class DaemonLauncher:
    """Starts the daemon through its service when one is installed (``ragd service install``), else as
    ``ragd serve`` in a new session with its output in ``<state>/serve.log``; stops it through the
    service, or with SIGTERM to the pid in the daemon file (the daemon has no stop endpoint)."""

    config: Config
    home: Path
    platform: str = sys.platform
    uid: int = field(default_factory=lambda: os.getuid() if hasattr(os, "getuid") else 0)
    argv: Callable[[str], list[str]] = field(default_factory=lambda: _default_argv)
    run: Runner = _run
    spawn: Spawner = subprocess.Popen
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)  # daemons this tray started

    @property
    def log_path(self) -> Path:
        return self.config.state_dir / "serve.log"

    def service(self) -> Literal["systemd", "launchd"] | None:
        """The service manager that has ragd installed, if any."""
        if self.platform.startswith("linux") and sf.unit_path(self.home).exists():
            return "systemd"
        if self.platform == "darwin" and sf.plist_path(self.home).exists():
            return "launchd"
        return None

    def start(self) -> str:
        service = self.service()
        if service == "systemd":
            self._check(("systemctl", "--user", "start", sf.UNIT_NAME))
            return "started the ragd service (systemctl --user start)"
        if service == "launchd":
            agent = f"gui/{self.uid}/{sf.LABEL}"
            if self.run(("launchctl", "kickstart", agent)).returncode == 0:
                return "started the ragd agent (launchctl kickstart)"
            # not loaded (Stop boots it out): load it again, and RunAtLoad starts it
            self._check(("launchctl", "bootstrap", f"gui/{self.uid}", str(sf.plist_path(self.home))))
            return "started the ragd agent (launchctl bootstrap)"
        self.config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        argv = self.argv("serve")
        with open(self.log_path, "ab") as out:
            child = self.spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True, close_fds=True)
        self.children = [c for c in self.children if c.returncode is None] + [child]
        # wait for it on a thread of its own: a daemon that stops is never left a zombie of the tray
        threading.Thread(target=child.wait, name=f"ragd-tray-reap-{child.pid}", daemon=True).start()
        return f"started `{' '.join(argv)}` (pid {child.pid}; log {self.log_path})"

    def stop(self) -> str:
        info = read_daemon_file(self.config.daemon_path) or {}
        pid = info.get("pid")
        said = []
        service = self.service()
        if service == "systemd":
            self._check(("systemctl", "--user", "stop", sf.UNIT_NAME))
            said.append("stopped the ragd service (systemctl --user stop)")
        # on macOS SIGTERM alone would not do: KeepAlive restarts an agent that did not exit 0
        elif service == "launchd" and self.run(("launchctl", "bootout", f"gui/{self.uid}/{sf.LABEL}")).returncode == 0:
            said.append("stopped the ragd agent (launchctl bootout)")
        if isinstance(pid, int) and pid > 0 and pid_alive(pid):  # not the service's: a `ragd serve` of its own
            os.kill(pid, signal.SIGTERM)
            said.append(f"sent SIGTERM to the daemon (pid {pid})")
        return "; ".join(said) or NOT_RUNNING

    def _check(self, argv: Sequence[str]) -> None:
        result = self.run(argv)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout or "").strip()
            raise RagdError(f"`{' '.join(argv)}` failed (exit {result.returncode}): {detail}")


def _default_argv(command: str) -> list[str]:
    from ragd.daemon.cli_service import ragd_argv

    return ragd_argv(command)


# -- pystray -----------------------------------------------------------------------------------------


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


class _Worker:
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


class _TkPopup:
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


class Tray:
    """The pystray glue: one icon whose image, title and menu follow :class:`TrayModel`."""

    def __init__(self, model: TrayModel, pystray: ModuleType, poll_s: float = POLL_S) -> None:
        self.model = model
        self.pystray = pystray
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._worker = _Worker()
        self._shown: tuple[Any, ...] = ()
        self._menu_shown: list[Entry] = []
        model.on_quit = self.quit
        model.refresh()
        self.backend = _backend_name(pystray)
        self.icon: Any = pystray.Icon("ragd", self._image(model.view), self._title(model.view),
                                      menu=pystray.Menu(self._items))
        self.popup: _TkPopup | None = None
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
            if _TkPopup.available():
                self.popup = popup = _TkPopup(self.model.menu, self.choose)
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
            dock = icon._dock_window

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
        import fcntl
    except ImportError:  # Windows: no lock, a second tray is merely a second icon
        return None
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(config.state_dir / "tray.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise RagdError(f"the tray is already running (pid {holder})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def connector(config: Config, timeout: float = 10.0) -> Callable[[], Client | None]:
    """A factory of clients for the daemon running now (None when there is none)."""
    def connect() -> Client | None:
        from ragd.daemon.client import DaemonClient

        client = DaemonClient.find(config.daemon_path, config.token_path)
        if client is not None:
            import httpx

            client.http.timeout = httpx.Timeout(timeout, connect=2.0)  # a tray must not hang on a request
        return client

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
