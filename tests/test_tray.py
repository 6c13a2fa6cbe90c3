"""`ragd tray`: the model without a display (a fake client and launcher), and the real icon in a real tray
(Xvfb + trayer) against a real daemon, driven through its pystray menu and a real click."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import webbrowser
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ragd.daemon import tray as tray_mod
from ragd.daemon.client import DaemonError
from ragd.daemon.config import load
from ragd.daemon.tray import COLOURS, STATES, DaemonLauncher, TrayModel, draw_icon, view_of
from ragd.index.errors import RagdError
from tests.daemon_proc import Daemon, wait_until
from tests.helpers import REPO, ragd_env

# --- fakes ---------------------------------------------------------------------------------------


def status(**over: Any) -> dict[str, Any]:
    """A /v1/status answer of an idle daemon, with ``over`` applied (``indexing`` is merged)."""
    base: dict[str, Any] = {
        "files": 3, "indexed": 3, "failed": 0, "skipped": 0, "chunks": 9, "paused": False, "problems": [],
        "problems_total": 0, "unwatched": {}, "pid": 4242,
        "indexing": {"state": "idle", "queued": 0, "batch": {"done": 0, "total": 0}, "current": None,
                     "eta_s": None, "last_error": None, "recent_failures": [], "done_through": 0},
    }
    indexing = {**base["indexing"], **over.pop("indexing", {})}
    return {**base, **over, "indexing": indexing}


class FakeClient:
    url = "http://127.0.0.1:9999"

    def __init__(self, answer: dict[str, Any] | None = None, link: str = "/session?code=abc") -> None:
        self.answer = answer or status()
        self.link = link
        self.calls: list[tuple[str, str, Any]] = []
        self.down = False
        self.closed = False

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append(("GET", path, params))
        if self.down:
            raise DaemonError(f"cannot reach the daemon at {self.url}: connection refused")
        return self.answer

    def post(self, path: str, body: Any = None) -> Any:
        self.calls.append(("POST", path, body))
        if self.down:
            raise DaemonError("cannot reach the daemon")
        if path == "/v1/pause":
            self.answer = {**self.answer, "paused": True}
        elif path == "/v1/resume":
            self.answer = {**self.answer, "paused": False}
        elif path == "/v1/session/link":
            return {"url": f"{self.link}&next={body['next']}"}
        return {}

    def close(self) -> None:
        self.closed = True


class FakeLauncher:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> str:
        self.calls.append("start")
        return "started"

    def stop(self) -> str:
        self.calls.append("stop")
        return "stopped"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class World:
    """A model wired to fakes: ``client`` is what ``connect`` returns (None: no daemon)."""

    def __init__(self, client: FakeClient | None = None) -> None:
        self.client = client
        self.connects = 0
        self.opened: list[str] = []
        self.launcher = FakeLauncher()
        self.clock = Clock()
        self.browser_works = True
        self.model = TrayModel(self.connect, self.launcher, self.open, self.clock)

    def connect(self) -> FakeClient | None:
        self.connects += 1
        return self.client

    def open(self, url: str) -> bool:
        self.opened.append(url)
        return self.browser_works

    def texts(self) -> list[str]:
        return [e.text for e in self.model.menu()]

    def entry(self, key: str) -> tray_mod.Entry:
        return next(e for e in self.model.menu() if e.key == key)


# --- the view of a status ------------------------------------------------------------------------


def test_no_daemon_is_the_error_state() -> None:
    view = view_of(None)
    assert (view.state, view.running, view.title) == ("error", False, "ragd: the daemon is not running")
    assert view_of(None, "connection refused").title == "ragd: cannot reach the daemon (connection refused)"


def test_states_from_status() -> None:
    idle = view_of(status())
    assert (idle.state, idle.title, idle.progress) == ("idle", "ragd: up to date, 3 files indexed", None)

    busy = view_of(status(indexing={"state": "indexing", "queued": 780, "batch": {"done": 120, "total": 900},
                                    "eta_s": 40.4}))
    assert busy.state == "indexing" and busy.title == "ragd: indexing 120/900, ETA 40 s"
    assert busy.progress == pytest.approx(120 / 900)
    assert view_of(status(indexing={"state": "indexing", "batch": {"done": 1, "total": 9000},
                                    "eta_s": 5000})).title == "ragd: indexing 1/9000, ETA 1 h 23 min"
    scanning = view_of(status(indexing={"state": "scanning"}))
    assert (scanning.state, scanning.title, scanning.progress) == ("indexing", "ragd: scanning your folders", None)
    assert view_of(status(indexing={"state": "idle", "queued": 4})).title == "ragd: 4 changes queued"
    assert view_of(status(indexing={"state": "indexing"})).title == "ragd: indexing…"

    paused = view_of(status(paused=True, indexing={"state": "paused", "queued": 2}))
    assert (paused.state, paused.paused, paused.title) == ("paused", True, "ragd: indexing paused (2 changes waiting)")

    broken = view_of(status(indexing={"last_error": "OSError: disk full"}))
    assert (broken.state, broken.title) == ("error", "ragd: indexing failed: OSError: disk full")
    assert len(view_of(status(indexing={"last_error": "x" * 500})).title) <= tray_mod.TITLE_MAX


def test_problems_are_listed_newest_first_and_capped() -> None:
    problems = [{"path": f"/d/f{i}.pdf", "status": "failed", "reason": "bad xref"} for i in range(15)]
    failures = [{"path": "/d/old.txt", "error": "decode"}, {"path": "/d/new.txt", "error": "timeout"}]
    view = view_of(status(failed=15, problems=problems, indexing={"recent_failures": failures},
                          unwatched={"/gone": "no such folder"}))
    assert view.state == "error" and view.title == "ragd: 15 files could not be indexed (see Recent problems)"
    assert view.problems[:3] == ("new.txt: timeout", "old.txt: decode", "f0.pdf: failed, bad xref")
    assert len(view.problems) == tray_mod.MAX_PROBLEMS
    # a skipped file (too big, say) is listed but leaves the icon alone
    skipped = view_of(status(skipped=1, problems=[{"path": "/d/huge.iso", "status": "skipped", "reason": "64 MB"}]))
    assert skipped.state == "idle" and skipped.problems == ("huge.iso: skipped, 64 MB",)
    assert view_of(status(unwatched={"/gone": "no such folder"})).state == "error"


# --- icons -----------------------------------------------------------------------------------------


def _pixels(image: Any) -> list[tuple[int, ...]]:
    data = image.convert("RGBA").tobytes()
    return [tuple(data[i:i + 4]) for i in range(0, len(data), 4)]


def _dominant(image: Any) -> tuple[int, ...]:
    """The commonest opaque colour."""
    return Counter(p[:3] for p in _pixels(image) if p[3] == 255).most_common(1)[0][0]


def _shows(image: Any, state: str) -> bool:
    """Whether ``image`` (a screenshot of the icon, scaled and anti-aliased) is mostly the state's colour:
    more of its pixels are near that colour than near any other state's."""
    def near(colour: tuple[int, int, int]) -> int:
        return sum(1 for p in _pixels(image) if sum(abs(a - b) for a, b in zip(p[:3], colour, strict=False)) < 45)

    shares = {s: near(c) for s, c in COLOURS.items()}
    return max(shares, key=lambda s: shares[s]) == state and shares[state] > image.width * image.height // 4


def test_icons_differ_per_state_and_follow_progress() -> None:
    images = {state: draw_icon(state, 0.5) for state in STATES}
    assert all(i.size == (64, 64) and i.mode == "RGBA" for i in images.values())
    assert len({i.tobytes() for i in images.values()}) == len(STATES)
    for state, image in images.items():
        assert _dominant(image) == COLOURS[state], state
        assert image.getpixel((0, 0))[3] == 0  # transparent corners
    assert draw_icon("indexing", 0.25).tobytes() != draw_icon("indexing", 0.75).tobytes()
    assert draw_icon("idle", size=22).size == (22, 22)


# --- the model: menu and actions ----------------------------------------------------------------------


def test_unreachable_daemon_offers_start_and_disables_the_rest() -> None:
    w = World(client=None)
    view = w.model.refresh()
    assert view.state == "error" and not view.running
    assert w.texts() == ["Ask…", "Pause indexing", "Sources…", "Recent problems", "-", "Start the daemon", "-",
                         "Quit"]
    assert w.entry("ask").default and w.entry("ask").enabled
    assert not w.entry("pause").enabled and not w.entry("sources").enabled
    w.model.act("start")
    assert w.launcher.calls == ["start"]
    assert w.model.refresh().title == "ragd: starting the daemon…"


def test_menu_texts_follow_paused_and_actions_call_the_api() -> None:
    client = FakeClient()
    w = World(client)
    assert w.model.refresh().state == "idle"
    assert w.texts() == ["Ask…", "Pause indexing", "Sources…", "Recent problems", "-", "Stop the daemon", "-",
                         "Quit"]
    assert w.entry("problems").children[0].text == "No problems"
    assert not w.entry("problems").children[0].enabled

    w.model.act("pause")
    assert ("POST", "/v1/pause", None) in client.calls
    assert w.model.view.state == "paused" and "Resume indexing" in w.texts() and "Pause indexing" not in w.texts()
    w.model.act("resume")
    assert ("POST", "/v1/resume", None) in client.calls
    assert w.model.view.state == "idle" and "Pause indexing" in w.texts()
    assert w.connects == 1  # one client, kept

    w.model.act("stop")
    assert w.launcher.calls == ["stop"] and client.closed


def test_ask_and_sources_open_a_one_time_link() -> None:
    client = FakeClient()
    w = World(client)
    w.model.refresh()
    w.model.act("ask")
    assert ("POST", "/v1/session/link", {"next": "/#ask"}) in client.calls
    assert w.opened == ["http://127.0.0.1:9999/session?code=abc&next=/#ask"]  # a relative link is made absolute
    client.link = "http://127.0.0.1:9999/session?code=xyz"
    w.model.act("sources")
    assert w.opened[-1] == "http://127.0.0.1:9999/session?code=xyz&next=/#sources"
    w.browser_works = False
    w.model.act("ask")
    assert "no web browser could be started" in w.model.refresh().title


def test_ask_without_a_daemon_starts_it_and_opens_the_page_once_it_answers() -> None:
    w = World(client=None)
    w.model.refresh()
    w.model.act("ask")
    assert w.launcher.calls == ["start"] and w.opened == []
    w.model.refresh()
    assert w.opened == []
    w.client = FakeClient()  # the daemon is up
    w.model.refresh()
    assert len(w.opened) == 1 and w.opened[0].endswith("next=/#ask")
    w.model.refresh()
    assert len(w.opened) == 1

    late = World(client=None)
    late.model.act("ask")
    late.clock.now += tray_mod.START_WAIT_S + 1
    assert "the daemon did not start" in late.model.refresh().title
    assert late.opened == []


def test_losing_the_daemon_is_noticed_and_it_reconnects() -> None:
    client = FakeClient()
    w = World(client)
    assert w.model.refresh().running
    client.down = True
    view = w.model.refresh()
    assert view.state == "error" and view.title.startswith("ragd: cannot reach the daemon (")
    assert client.closed and "Start the daemon" in w.texts()
    client.down, client.closed = False, False
    assert w.model.refresh().running and w.connects == 2


def test_a_failed_action_is_a_notice_not_an_exception() -> None:
    client = FakeClient()
    w = World(client)
    w.model.refresh()
    client.down = True
    w.model.act("pause")  # no exception
    client.down = False
    assert "pause failed: cannot reach the daemon" in w.model.refresh().title
    w.clock.now += tray_mod.NOTICE_S + 1
    assert w.model.refresh().title == "ragd: up to date, 3 files indexed"


def test_quit_calls_the_quit_hook_only() -> None:
    quits: list[int] = []
    w = World(FakeClient())
    w.model.on_quit = lambda: quits.append(1)
    w.model.act("quit")
    assert quits == [1] and w.launcher.calls == []


# --- the launcher ---------------------------------------------------------------------------------------


class Recorder:
    """Stands in for subprocess: records commands; those with the word ``failing`` (any, if None) exit ``code``."""

    def __init__(self, code: int = 0, failing: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.code = code
        self.failing = failing

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        code = self.code if self.failing is None or self.failing in argv else 0
        return subprocess.CompletedProcess(list(argv), code, "", "boom" if code else "")


def test_launcher_spawns_serve_detached_without_a_service(tmp_path: Path) -> None:
    cfg = load({"RAGD_HOME": str(tmp_path / "r")})
    spawned: list[tuple[list[str], dict[str, Any]]] = []

    def spawn(argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        spawned.append((argv, kw))
        return subprocess.Popen([sys.executable, "-c", "pass"])

    launcher = DaemonLauncher(cfg, tmp_path / "home", platform="linux", argv=lambda c: ["/x/ragd", c],
                              run=Recorder(), spawn=spawn)
    assert launcher.service() is None
    assert "pid" in launcher.start()
    (argv, kw), = spawned
    assert argv == ["/x/ragd", "serve"] and kw["start_new_session"] is True
    assert Path(kw["stdout"].name) == cfg.state_dir / "serve.log" and kw["stderr"] == subprocess.STDOUT
    wait_until(lambda: launcher.children[0].returncode is not None, 30, "the child to be reaped")  # no zombie


def test_launcher_uses_the_installed_service(tmp_path: Path) -> None:
    cfg, home = load({"RAGD_HOME": str(tmp_path / "r")}), tmp_path / "home"
    unit = home / ".config/systemd/user/ragd.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\n")
    run = Recorder()
    linux = DaemonLauncher(cfg, home, platform="linux", run=run, spawn=None)  # type: ignore[arg-type]
    assert linux.service() == "systemd"
    linux.start()
    assert linux.stop() == "stopped the ragd service (systemctl --user stop)"
    assert run.calls == [["systemctl", "--user", "start", "ragd.service"],
                         ["systemctl", "--user", "stop", "ragd.service"]]
    with pytest.raises(RagdError, match=r"systemctl --user start ragd.service` failed \(exit 5\): boom"):
        DaemonLauncher(cfg, home, platform="linux", run=Recorder(5)).start()

    plist = home / "Library/LaunchAgents/io.ragd.daemon.plist"
    plist.parent.mkdir(parents=True)
    plist.write_bytes(b"")
    mac_run = Recorder()
    mac = DaemonLauncher(cfg, home, platform="darwin", uid=501, run=mac_run)
    assert mac.start() == "started the ragd agent (launchctl kickstart)"
    assert mac.stop() == "stopped the ragd agent (launchctl bootout)"  # KeepAlive would restart a SIGTERMed one
    assert mac_run.calls == [["launchctl", "kickstart", "gui/501/io.ragd.daemon"],
                             ["launchctl", "bootout", "gui/501/io.ragd.daemon"]]
    booted_out = Recorder(113, failing="kickstart")  # "Could not find service": Stop booted the agent out
    assert DaemonLauncher(cfg, home, platform="darwin", uid=501, run=booted_out).start() == (
        "started the ragd agent (launchctl bootstrap)")
    assert booted_out.calls[-1] == ["launchctl", "bootstrap", "gui/501", str(plist)]


def test_launcher_stops_a_plain_daemon_with_sigterm(tmp_path: Path) -> None:
    cfg = load({"RAGD_HOME": str(tmp_path / "r")})
    cfg.state_dir.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cfg.daemon_path.write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": proc.pid}))
        launcher = DaemonLauncher(cfg, tmp_path / "home", platform="linux", run=Recorder())
        assert launcher.stop() == f"sent SIGTERM to the daemon (pid {proc.pid})"
        assert proc.wait(30) == -signal.SIGTERM
        cfg.daemon_path.unlink()
        assert launcher.stop() == "the daemon is not running"
    finally:
        proc.kill()
        proc.wait()


# --- no display -------------------------------------------------------------------------------------


def test_load_pystray_needs_a_display() -> None:
    with pytest.raises(RagdError, match=r"^no display: the tray needs a desktop session \(DISPLAY and "):
        tray_mod.load_pystray({}, platform="linux")


def tray_cli() -> list[str]:
    """`ragd tray`, from this checkout."""
    return [sys.executable, "-m", "ragd.daemon", "tray"]


def test_tray_without_a_display_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {k: v for k, v in ragd_env(tmp_path / "home").items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    cases = [({}, "DISPLAY and WAYLAND_DISPLAY are not set"),  # a server, ssh, a service
             ({"DISPLAY": ":1999"}, 'pystray: Can\'t connect to display ":1999"'),  # a display that is not there
             ({"WAYLAND_DISPLAY": "wayland-0"}, "Wayland without X11")]
    for extra, why in cases:
        proc = subprocess.run(tray_cli(), env={**env, **extra}, capture_output=True, text=True, timeout=120, cwd=REPO)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("ragd: no display: the tray needs a desktop session ("), proc.stderr
        assert why in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout == ""
    assert not (tmp_path / "home" / "state" / "tray.lock").exists()  # it gave up before taking the lock


# --- the real thing: Xvfb + trayer + a real daemon ------------------------------------------------------

NEEDED = ("Xvfb", "trayer", "xdotool")


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RAGD_TEST_ARTIFACTS", tmp_path)) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Desktop:
    """A virtual X screen (Xvfb, on a display number it picks itself) and, once started, a system tray."""

    def __init__(self, tmp_path: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = open(tmp_path / "x.log", "ab")  # noqa: SIM115 - closed by close()
        read, write = os.pipe()
        self.procs.append(subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24",
                                            "-nolisten", "tcp"], pass_fds=(write,), stdout=self.log, stderr=self.log))
        os.close(write)
        with os.fdopen(read) as numbers:
            number = numbers.readline().strip()
        assert number, "Xvfb did not start"
        self.display = f":{number}"

    def start_tray(self) -> None:
        import Xlib.display

        env = {**os.environ, "DISPLAY": self.display}
        self.procs.append(subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                                            "--height", "24", "--transparent", "false"], env=env,
                                           stdout=self.log, stderr=self.log))
        x = Xlib.display.Display(self.display)
        try:
            selection = x.intern_atom("_NET_SYSTEM_TRAY_S0")
            wait_until(lambda: x.get_selection_owner(selection) != 0, 30, "trayer to own the tray selection")
        finally:
            x.close()

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log.close()


@pytest.fixture
def screen(tmp_path: Path) -> Iterator[Desktop]:
    """An X screen without a system tray yet."""
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install -y xvfb trayer xdotool)")
    desk = Desktop(tmp_path)
    try:
        yield desk
    finally:
        desk.close()


@pytest.fixture
def desktop(screen: Desktop) -> str:
    """A virtual X screen with a system tray (trayer) on it: its DISPLAY."""
    screen.start_tray()
    return screen.display


def _xdotool(display: str, *args: str) -> str:
    return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True,
                          text=True, timeout=30, check=False).stdout.strip()


def tray_windows(display: str) -> list[int]:
    return [int(w) for w in _xdotool(display, "search", "--class", "ragd").split()]


def _window_chain(display: str, window: int) -> list[tuple[int, Any, Any]]:
    """(id, WM_NAME, WM_CLASS) from the window up to the root's child."""
    import Xlib.display

    x = Xlib.display.Display(display)
    try:
        chain, w = [], x.create_resource_object("window", window)
        root = x.screen().root.id
        while w.id != root:
            chain.append((w.id, w.get_wm_name(), w.get_wm_class()))
            w = w.query_tree().parent
        return chain
    finally:
        x.close()


def screenshot(display: str, path: Path, window: int | None = None) -> Any:
    """The whole screen as a Pillow image (saved to ``path``), and the box of ``window`` on it."""
    import Xlib.display
    import Xlib.X
    from PIL import Image

    x = Xlib.display.Display(display)
    try:
        root = x.screen().root
        geometry = root.get_geometry()
        raw = root.get_image(0, 0, geometry.width, geometry.height, Xlib.X.ZPixmap, 0xFFFFFFFF)
        image = Image.frombytes("RGB", (geometry.width, geometry.height), raw.data, "raw", "BGRX")
        image.save(path)
        box = None
        if window is not None:
            w = x.create_resource_object("window", window)
            g = w.get_geometry()
            at = w.translate_coords(root, 0, 0)
            box = (-at.x, -at.y, -at.x + g.width, -at.y + g.height)
        return image, box
    finally:
        x.close()


def _menu_item(tray: tray_mod.Tray, text: str) -> Any:
    return next(item for item in tray.icon.menu.items if item.text == text)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_real_tray_in_trayer_against_a_real_daemon(desktop: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "garden.md").write_text("# Garden\n\nThe tomatoes were planted in April.\n", encoding="utf-8")
    home = tmp_path / "home"
    daemon = Daemon(home, [folder], RAGD_HISTORY="off").start()
    shots = _artifacts(tmp_path)
    tray: tray_mod.Tray | None = None
    thread: threading.Thread | None = None
    try:
        daemon.settled()
        # a browser that writes down what it was asked to open
        opened = tmp_path / "opened.txt"
        browser = tmp_path / "browser.sh"
        browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{opened}"\n')
        browser.chmod(0o755)
        monkeypatch.setenv("BROWSER", str(browser))
        monkeypatch.setattr(webbrowser, "_tryorder", None)  # read BROWSER again
        monkeypatch.setattr(webbrowser, "_browsers", {})
        monkeypatch.setenv("DISPLAY", desktop)
        monkeypatch.setenv("RAGD_HOME", str(home))

        cfg = load({"RAGD_HOME": str(home)})
        pystray = tray_mod.load_pystray(os.environ)
        model = TrayModel(tray_mod.connector(cfg), DaemonLauncher(cfg, tmp_path / "fake-home"))
        tray = tray_mod.Tray(model, pystray, poll_s=0.5)
        assert tray.backend == "xorg"  # no PyGObject here: the plain XEmbed icon, without a native menu
        thread = threading.Thread(target=tray.run, daemon=True)
        thread.start()
        assert tray.ready.wait(30)

        # (1) trayer embeds the icon: its window's parents lead to trayer's panel
        window = wait_until(lambda: tray_windows(desktop), 30, "the tray icon window")[0]
        chain = wait_until(lambda: (c := _window_chain(desktop, window)) and len(c) > 1 and c, 30,
                           "trayer to embed the icon")
        assert chain[0][2] == ("ragdSystemTrayIcon", "ragd")
        assert chain[-1][2] == ("panel", "trayer"), chain
        sockets = [w for w, _name, _cls in chain]  # trayer's socket for the icon, and its panel
        wait_until(lambda: model.view.state == "idle", 60, "the tray to see an idle daemon")
        wait_until(lambda: _window_chain(desktop, window)[0][1] == "ragd: up to date, 1 file indexed", 30,
                   "the icon's title to follow the daemon")
        _image, box = wait_until(lambda: (s := screenshot(desktop, shots / "tray.png", window)) and
                                 _shows(s[0].crop(s[1]), "idle") and s, 30, "the green (idle) icon on screen")
        assert box[2] - box[0] >= 16 and box[1] < 24  # a real icon, in the panel at the top

        # (2) the menu as pystray holds it: pause, then resume, through the daemon's API
        assert [i.text for i in tray.icon.menu.items][:3] == ["Ask…", "Pause indexing", "Sources…"]
        _menu_item(tray, "Pause indexing")(tray.icon)
        wait_until(lambda: daemon.status()["paused"] is True, 30, "the daemon to pause")
        wait_until(lambda: model.view.state == "paused", 30, "the tray to show paused")
        wait_until(lambda: (s := screenshot(desktop, shots / "tray-paused.png", window)) and
                   _shows(s[0].crop(s[1]), "paused"), 30, "the grey (paused) icon on screen")
        wait_until(lambda: _window_chain(desktop, window)[0][1].startswith("ragd: indexing paused"), 30,
                   "the icon's title to say paused")  # the title follows the image
        # a new image is drawn in place: pystray alone would ask to dock again, and trayer would re-embed
        # the icon in a new socket each time (a click in between is lost)
        assert [w for w, _name, _cls in _window_chain(desktop, window)] == sockets
        _menu_item(tray, "Resume indexing")(tray.icon)
        wait_until(lambda: daemon.status()["paused"] is False, 30, "the daemon to resume")
        wait_until(lambda: "Pause indexing" in [i.text for i in tray.icon.menu.items], 30, "the menu to follow")

        # the xorg backend has no menu of its own: a right click pops the same menu up with Tk
        if tray.popup is not None:
            _xdotool(desktop, "mousemove", "--window", str(window), "5", "5")
            _xdotool(desktop, "click", "3")
            wait_until(lambda: _xdotool(desktop, "search", "--onlyvisible", "--class", "^Menu$"), 30,
                       "the popup menu (a Tk menu)")
            time.sleep(0.3)  # let Tk draw it
            screenshot(desktop, shots / "tray-menu.png")
            _xdotool(desktop, "key", "Down", "Down", "Return")  # Ask…, Pause indexing: choose it
            wait_until(lambda: daemon.status()["paused"] is True, 30, "the popup menu to pause the daemon")
            wait_until(lambda: model.view.paused, 30, "the tray to show paused")
            _menu_item(tray, "Resume indexing")(tray.icon)
            wait_until(lambda: daemon.status()["paused"] is False, 30, "the daemon to resume")

        wait_until(lambda: (s := screenshot(desktop, shots / "tray-resumed.png", window)) and
                   _shows(s[0].crop(s[1]), "idle"), 30, "the green icon again")
        assert [w for w, _name, _cls in _window_chain(desktop, window)] == sockets  # still docked where it was
        # a real click (X input through XTEST) runs the default item, Ask…: a one-time link to /#ask
        _xdotool(desktop, "mousemove", "--window", str(window), "5", "5")
        _xdotool(desktop, "click", "1")
        url = wait_until(lambda: opened.exists() and opened.read_text().strip(), 30, "the browser to be asked")
        parts = urlsplit(url)
        assert parts.path == "/session" and f"{parts.scheme}://{parts.netloc}" == daemon.url
        query = parse_qs(parts.query)
        assert query["next"] == ["/#ask"] and len(query["code"][0]) >= 16

        _menu_item(tray, "Quit")(tray.icon)
        thread.join(30)
        assert not thread.is_alive()
        wait_until(lambda: not tray_windows(desktop), 30, "the icon to go away")
        assert daemon.status()["paused"] is False  # Quit leaves the daemon running
        tray = None

        # the command itself: `ragd tray` docks, shows the daemon's state, and SIGTERM ends it cleanly
        env = {**ragd_env(home), "DISPLAY": desktop}
        proc = subprocess.Popen(tray_cli(), env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            window = wait_until(lambda: tray_windows(desktop), 60, "`ragd tray`'s icon")[0]
            wait_until(lambda: _window_chain(desktop, window)[0][1] == "ragd: up to date, 1 file indexed", 60,
                       "`ragd tray` to show the daemon's state")
            screenshot(desktop, shots / "tray-cli.png")
            again = subprocess.run(tray_cli(), env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
            assert again.returncode == 1 and again.stderr.startswith("ragd: the tray is already running (pid ")
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            assert "Traceback" not in err, err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert daemon.status()["pid"] == daemon.proc.pid  # the daemon outlived both trays
    finally:
        if tray is not None:
            tray.quit()
        if thread is not None:
            thread.join(10)
        daemon.stop_quietly()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_real_tray_starts_and_stops_a_daemon(desktop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"Start the daemon" spawns `ragd serve` (no service installed), "Stop the daemon" ends it with SIGTERM."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Basalt columns form when lava cools slowly.\n", encoding="utf-8")
    home = tmp_path / "home"
    for key, value in ragd_env(home, RAGD_HISTORY="off", RAGD_PORT="0").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DISPLAY", desktop)
    cfg = load(os.environ)
    # the daemon knows the folder from an earlier `ragd index`-like start: give it as a configured source
    cfg.config_file.parent.mkdir(parents=True, exist_ok=True)
    cfg.config_file.write_text(f"sources = [{json.dumps(str(folder))}]\n")
    cfg = load(os.environ)
    model = TrayModel(tray_mod.connector(cfg), DaemonLauncher(cfg, tmp_path / "fake-home"))
    tray = tray_mod.Tray(model, tray_mod.load_pystray(os.environ), poll_s=0.5)
    thread = threading.Thread(target=tray.run, daemon=True)
    thread.start()
    launcher = model.launcher
    assert isinstance(launcher, DaemonLauncher)
    try:
        assert tray.ready.wait(30)
        wait_until(lambda: not model.view.running, 10, "the tray to see no daemon")
        _menu_item(tray, "Start the daemon")(tray.icon)
        wait_until(lambda: model.view.running, 300, "the daemon the tray started to answer", every=0.5)
        assert "Stop the daemon" in [i.text for i in tray.icon.menu.items]
        assert [c.pid for c in launcher.children] == [json.loads(cfg.daemon_path.read_text())["pid"]]
        _menu_item(tray, "Stop the daemon")(tray.icon)
        wait_until(lambda: not model.view.running, 120, "the daemon to stop")
        wait_until(lambda: launcher.children[0].returncode is not None, 120, "the daemon process to exit (reaped)")
        assert launcher.children[0].returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
        assert "ragd is serving" in (cfg.state_dir / "serve.log").read_text()
    finally:
        tray.quit()
        thread.join(10)
        for child in launcher.children:
            if child.returncode is None:
                child.kill()


@pytest.mark.timeout(300)
def test_real_tray_docks_when_a_system_tray_appears_later(screen: Desktop, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """At login the panel may start after the tray: the icon docks once a system tray is there."""
    monkeypatch.setenv("DISPLAY", screen.display)
    cfg = load({"RAGD_HOME": str(tmp_path / "home")})
    model = TrayModel(tray_mod.connector(cfg), DaemonLauncher(cfg, tmp_path / "fake-home"))
    tray = tray_mod.Tray(model, tray_mod.load_pystray(os.environ), poll_s=0.2)
    thread = threading.Thread(target=tray.run, daemon=True)
    thread.start()
    try:
        assert tray.ready.wait(30)
        window = wait_until(lambda: tray_windows(screen.display), 30, "the icon window")[0]
        time.sleep(1)
        assert len(_window_chain(screen.display, window)) == 1  # not embedded: there is no tray yet
        screen.start_tray()
        chain = wait_until(lambda: (c := _window_chain(screen.display, window)) and len(c) > 1 and c, 30,
                           "the icon to dock in the tray that came later")
        assert chain[-1][2] == ("panel", "trayer") and chain[0][1] == "ragd: the daemon is not running"
        wait_until(lambda: (s := screenshot(screen.display, _artifacts(tmp_path) / "tray-late.png", window)) and
                   _shows(s[0].crop(s[1]), "error"), 30, "the red (no daemon) icon on screen")
    finally:
        tray.quit()
        thread.join(10)
    assert not thread.is_alive()
