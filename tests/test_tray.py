"""`ragd tray` without a display: the view of a status, the icons, the model (a fake client and launcher),
the launcher, and the one-line error when there is no desktop. The real icon in a real tray is in
test_tray_desktop.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ragd.daemon.config import load
from ragd.daemon.service.client import DaemonError
from ragd.daemon.tray import app as tray_mod
from ragd.daemon.tray.launcher import DaemonLauncher
from ragd.daemon.tray.model import NOTICE_S, START_WAIT_S, Entry, TrayModel
from ragd.daemon.tray.view import COLOURS, MAX_PROBLEMS, STATES, TITLE_MAX, draw_icon, view_of
from ragd.index.errors import RagdError
from tests.daemon_proc import wait_until
from tests.helpers import REPO, ragd_env
from tests.tray_helpers import dominant, tray_cli

# --- fakes ---------------------------------------------------------------------------------------


def status(**over: Any) -> dict[str, Any]:
    """A /v1/status answer of an idle daemon, with ``over`` applied (``indexing`` is merged)."""
    base: dict[str, Any] = {
        "files": 3, "indexed": 3, "failed": 0, "skipped": 0, "chunks": 9, "paused": False, "problems": [],
        "problems_total": 0, "unwatched": {}, "pid": 4242,
        "indexing": {"state": "idle", "queued": 0, "batch": {"done": 0, "total": 0}, "current": None,
                     "eta_s": None, "last_error": None, "totals": {"failures": []}, "done_through": 0},
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

    """The daemon's ``Service`` as the tray sees it; each call is recorded as the request it stands for."""

    def status(self) -> dict[str, Any]:
        self.calls.append(("GET", "/v1/status", None))
        if self.down:
            raise DaemonError(f"cannot reach the daemon at {self.url}: connection refused")
        return self.answer

    def _post(self, path: str, body: Any = None) -> None:
        self.calls.append(("POST", path, body))
        if self.down:
            raise DaemonError("cannot reach the daemon")

    def pause(self) -> None:
        self._post("/v1/pause")
        self.answer = {**self.answer, "paused": True}

    def resume(self) -> None:
        self._post("/v1/resume")
        self.answer = {**self.answer, "paused": False}

    def page_link(self, next_path: str) -> str:
        self._post("/v1/session/link", {"next": next_path})
        url = f"{self.link}&next={next_path}"
        return self.url + url if url.startswith("/") else url  # as RemoteService.page_link (tested end to end)

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

    def entry(self, key: str) -> Entry:
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
    assert len(view_of(status(indexing={"last_error": "x" * 500})).title) <= TITLE_MAX


def test_problems_are_listed_newest_first_and_capped() -> None:
    problems = [{"path": f"/d/f{i}.pdf", "status": "failed", "reason": "bad xref"} for i in range(15)]
    failures = [{"path": "/d/old.txt", "status": "failed", "reason": "decode"},
                {"path": "/d/new.txt", "status": "failed", "reason": "timeout"}]
    view = view_of(status(failed=15, problems=problems, indexing={"totals": {"failures": failures}},
                          unwatched={"/gone": "no such folder"}))
    assert view.state == "error" and view.title == "ragd: 15 files could not be indexed (see Recent problems)"
    assert view.problems[:3] == ("new.txt: timeout", "old.txt: decode", "f0.pdf: failed, bad xref")
    assert len(view.problems) == MAX_PROBLEMS
    # a skipped file (too big, say) is listed but leaves the icon alone
    skipped = view_of(status(skipped=1, problems=[{"path": "/d/huge.iso", "status": "skipped", "reason": "64 MB"}]))
    assert skipped.state == "idle" and skipped.problems == ("huge.iso: skipped, 64 MB",)
    assert view_of(status(unwatched={"/gone": "no such folder"})).state == "error"


# --- icons -----------------------------------------------------------------------------------------


def test_icons_differ_per_state_and_follow_progress() -> None:
    images = {state: draw_icon(state, 0.5) for state in STATES}
    assert all(i.size == (64, 64) and i.mode == "RGBA" for i in images.values())
    assert len({i.tobytes() for i in images.values()}) == len(STATES)
    for state, image in images.items():
        assert dominant(image) == COLOURS[state], state
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
    late.clock.now += START_WAIT_S + 1
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
    w.clock.now += NOTICE_S + 1
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


def test_a_full_disk_or_a_damaged_store_turns_the_icon_red() -> None:
    reason = "the disk holding /d is full (3 MB free; ragd needs at least 64 MB free to index)"
    full = view_of(status(indexing={"state": "out_of_space", "queued": 12},
                          problems=[{"path": "/d", "status": "out_of_space", "reason": reason}]))
    assert (full.state, full.title) == ("error", "ragd: the disk is full, indexing stopped (see Recent problems)")
    assert any("out_of_space" in line and "3 MB free" in line for line in full.problems)
    damaged = view_of(status(problems=[{"path": "/d/catalog.sqlite", "status": "damaged", "reason": "malformed"}]))
    assert (damaged.state, damaged.title) == ("error", "ragd: a damaged index is being rebuilt (see Recent problems)")
    repaired = view_of(status(problems=[{"path": "/d/x.damaged-1", "status": "repaired", "reason": "rebuilt"}]))
    assert repaired.state == "idle"  # a repair made earlier is listed, not an alarm
