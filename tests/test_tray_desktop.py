"""`ragd tray` for real: the icon in a real system tray (Xvfb + trayer) against a real daemon, driven
through its pystray menu, a Tk popup menu and real clicks (xdotool)."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ragd.daemon.config import load
from ragd.daemon.tray import app as tray_mod
from ragd.daemon.tray.launcher import DaemonLauncher
from ragd.daemon.tray.model import TrayModel
from tests.daemon_proc import Daemon, wait_until
from tests.helpers import REPO, ragd_env
from tests.tray_helpers import shows, tray_cli
from tests.web_helpers import screenshots

# --- Xvfb + trayer + a real daemon ------------------------------------------------------------------

NEEDED = ("Xvfb", "trayer", "xdotool")


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
        # pystray's Icon.__del__ talks to the X display: let the tray's threads end and the icon go while the
        # display is still up (on a loaded machine a poll thread can outlive the test and keep the icon alive)
        for thread in threading.enumerate():
            if thread.name in ("ragd-tray-poll", "ragd-tray-heartbeat"):  # both end with the icon's loop
                thread.join(10)
        gc.collect()
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
    shots = screenshots(tmp_path)
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
                                 shows(s[0].crop(s[1]), "idle") and s, 30, "the green (idle) icon on screen")
        assert box[2] - box[0] >= 16 and box[1] < 24  # a real icon, in the panel at the top

        # (2) the menu as pystray holds it: pause, then resume, through the daemon's API
        assert [i.text for i in tray.icon.menu.items][:3] == ["Ask…", "Pause indexing", "Sources…"]
        _menu_item(tray, "Pause indexing")(tray.icon)
        wait_until(lambda: daemon.status()["paused"] is True, 30, "the daemon to pause")
        wait_until(lambda: model.view.state == "paused", 30, "the tray to show paused")
        wait_until(lambda: (s := screenshot(desktop, shots / "tray-paused.png", window)) and
                   shows(s[0].crop(s[1]), "paused"), 30, "the grey (paused) icon on screen")
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
                   shows(s[0].crop(s[1]), "idle"), 30, "the green icon again")
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
        wait_until(lambda: (s := screenshot(screen.display, screenshots(tmp_path) / "tray-late.png", window)) and
                   shows(s[0].crop(s[1]), "error"), 30, "the red (no daemon) icon on screen")
    finally:
        tray.quit()
        thread.join(10)
    assert not thread.is_alive()
