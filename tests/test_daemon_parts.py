"""The daemon's small parts on their own: the change queue, the API guard, the token file, the settings,
and the real watchdog observer on a real folder."""

from __future__ import annotations

import ctypes
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.testclient import TestClient

from ragd.daemon.server.changes import ChangeQueue
from ragd.daemon.server.security import Guard, ensure_token, host_name, read_daemon_file, write_daemon_file
from ragd.daemon.server.settings import is_loopback
from ragd.daemon.server.watcher import Watcher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- the change queue ------------------------------------------------------------------------------
def test_queue_debounces_and_coalesces_a_burst():
    clock = Clock()
    q = ChangeQueue(debounce_s=0.5, max_wait_s=5, clock=clock)
    for _ in range(10):
        q.add(["/a"])
        clock.now += 0.2
    q.add(["/b", "/a"])
    assert q.take(timeout=0) is None  # still settling
    clock.now += 0.5
    batch = q.take(timeout=0)
    assert batch is not None and batch.paths == ["/a", "/b"] and not batch.full_scan
    assert q.pending() == 0


def test_queue_max_wait_bounds_a_file_that_never_settles():
    clock = Clock()
    q = ChangeQueue(debounce_s=1.0, max_wait_s=3.0, clock=clock)
    q.add(["/busy"])
    for _ in range(5):
        clock.now += 0.6
        q.add(["/busy"])
    assert q.take(timeout=0) is None or clock.now >= 103.0
    clock.now = 103.0  # 3 s after the first event, although the last one was just now
    batch = q.take(timeout=0)
    assert batch is not None and batch.paths == ["/busy"]


def test_full_scan_covers_pending_paths_and_jobs_come_first():
    q = ChangeQueue(debounce_s=10)
    ran: list[str] = []
    q.add(["/x"])
    scan = q.request_full_scan()
    job = q.submit(lambda: ran.append("job"))
    first = q.take(timeout=0)
    assert first is not None and len(first.jobs) == 1
    q.done()
    second = q.take(timeout=0)
    assert second is not None and second.full_scan and q.pending() == 0
    assert q.done_through() < scan  # the scan is in flight
    q.done()
    assert q.done_through() >= max(scan, job)


def test_done_through_waits_for_the_batch_in_hand():
    q = ChangeQueue(debounce_s=0)
    ticket = q.add(["/a"])
    assert q.done_through() == ticket - 1
    batch = q.take(timeout=0)
    assert batch is not None
    assert q.done_through() == ticket - 1  # taken but not written yet
    q.done()
    assert q.done_through() == ticket


def test_paused_writer_takes_only_jobs():
    q = ChangeQueue(debounce_s=0)
    q.hold(True)
    q.add(["/a"])
    assert q.take(timeout=0.05) is None
    q.submit(lambda: None)
    batch = q.take(timeout=0.05)
    assert batch is not None and batch.jobs and not batch.paths
    q.done()
    q.hold(False)
    assert q.take(timeout=0) is not None


def test_take_wakes_when_stopped():
    q = ChangeQueue()
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(q.take()))
    t.start()
    time.sleep(0.1)
    q.stop()
    t.join(2)
    assert result == [None]


# -- the guard -----------------------------------------------------------------------------------------
TOKEN = "t" * 43


def guarded(max_body: int = 1024) -> TestClient:
    app = FastAPI()

    @app.get("/healthz")
    def health() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/v1/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return TestClient(Guard(app, TOKEN, port=8765, max_body=max_body), base_url="http://127.0.0.1:8765")


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_guard_token_required_except_healthz():
    client = guarded()
    assert client.get("/healthz").status_code == 200
    r = client.post("/v1/echo", content=b"hi")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "token" in r.json()["error"]["message"]
    assert client.post("/v1/echo", content=b"hi", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/v1/echo", content=b"hi", headers=AUTH).json() == {"bytes": 2}


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io:8765", "192.168.1.10:8765", ""])
def test_guard_refuses_foreign_hosts_even_with_the_token(host):
    r = guarded().get("/healthz", headers={"Host": host, **AUTH})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_host"


@pytest.mark.parametrize("host", ["localhost:8765", "127.0.0.1:8765", "[::1]:8765", "LOCALHOST"])
def test_guard_accepts_loopback_names(host):
    assert guarded().get("/healthz", headers={"Host": host}).status_code == 200


def test_guard_refuses_other_origins_and_sends_no_cors_headers():
    client = guarded()
    r = client.post("/v1/echo", content=b"x", headers={"Origin": "https://evil.example", **AUTH})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_origin"
    pre = client.options("/v1/echo", headers={"Origin": "https://evil.example",
                                              "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 403
    assert not any(h.lower().startswith("access-control-") for h in pre.headers)
    own = client.post("/v1/echo", content=b"x", headers={"Origin": "http://127.0.0.1:8765", **AUTH})
    assert own.status_code == 200 and not any(h.lower().startswith("access-control-") for h in own.headers)


def test_guard_bounds_request_bodies():
    client = guarded(max_body=100)
    r = client.post("/v1/echo", content=b"x" * 101, headers=AUTH)
    assert r.status_code == 413 and "larger than 100 bytes" in r.json()["error"]["message"]
    assert r.json()["error"]["type"] == "invalid_request_error"  # the daemon's one error shape

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(5):
            yield b"y" * 40

    r = client.post("/v1/echo", content=chunks(), headers=AUTH)
    assert r.status_code == 413


def test_host_name_parsing():
    assert host_name("[::1]:8765") == "::1"
    assert host_name("localhost:1") == "localhost"
    assert host_name("::1") == "::1"
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("0.0.0.0")


# -- token and daemon files --------------------------------------------------------------------------
def test_token_file_is_private_and_stable(tmp_path):
    path = tmp_path / "state" / "api-token"
    token = ensure_token(path)
    assert len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_token(path) == token
    os.chmod(path, 0o644)
    assert ensure_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_daemon_file_round_trip(tmp_path):
    path = tmp_path / "daemon.json"
    write_daemon_file(path, "http://127.0.0.1:1234", 42)
    assert read_daemon_file(path) == {"url": "http://127.0.0.1:1234", "pid": 42}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("{not json", encoding="utf-8")
    assert read_daemon_file(path) is None


# -- the real watchdog observer ---------------------------------------------------------------------
def test_watcher_reports_saves_atomic_renames_deletes_and_folder_moves(tmp_path):
    root = tmp_path / "watched"
    root.mkdir()
    own = root / ".ragd-data"
    seen: list[str] = []
    lock = threading.Lock()

    def sink(paths: list[str]) -> None:
        with lock:
            seen.extend(paths)

    watcher = Watcher(sink, ignore=lambda p: p.startswith(str(own)))
    watcher.watch([str(root)])
    watcher.start()
    try:
        def wait_for(path, timeout=10.0):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                with lock:
                    if str(path) in seen:
                        return True
                time.sleep(0.02)
            return False

        (root / "a.txt").write_text("one\n", encoding="utf-8")
        assert wait_for(root / "a.txt")
        tmp = root / ".b.txt.tmp"  # an editor's atomic save
        tmp.write_text("two\n", encoding="utf-8")
        os.replace(tmp, root / "b.txt")
        assert wait_for(root / "b.txt")
        (root / "sub").mkdir()
        (root / "sub" / "c.txt").write_text("three\n", encoding="utf-8")
        assert wait_for(root / "sub" / "c.txt")
        os.rename(root / "sub", root / "moved")
        assert wait_for(root / "moved")
        with lock:
            seen.clear()
        os.chmod(root / "b.txt", 0o600)  # e.g. a file made readable again
        assert wait_for(root / "b.txt")
        (root / "a.txt").unlink()
        own.mkdir()
        (own / "catalog.sqlite").write_text("ours\n", encoding="utf-8")
        (root / "z.txt").write_text("last\n", encoding="utf-8")
        assert wait_for(root / "z.txt")
        with lock:
            assert str(root / "a.txt") in seen  # the delete
            assert not [p for p in seen if p.startswith(str(own))]
    finally:
        watcher.stop()


def test_watcher_is_not_told_about_reads(tmp_path):
    """Opening and reading files (as the indexer does) must not queue events: at 50,000 files they flooded the
    kernel's inotify queue, and each overflow made watchdog re-walk the whole tree."""
    root = tmp_path / "watched"
    (root / "sub").mkdir(parents=True)
    for i in range(20):
        (root / "sub" / f"n{i}.txt").write_text(f"note {i}\n", encoding="utf-8")
    seen: list[str] = []
    raw: list[str] = []
    watcher = Watcher(seen.extend)
    original = watcher._handler.on_any_event

    def record(event):
        raw.append(event.event_type)
        original(event)

    watcher._handler.on_any_event = record  # type: ignore[method-assign]
    watcher.watch([str(root)])
    watcher.start()
    try:
        for _ in range(3):
            for path in sorted((root / "sub").iterdir()):
                path.read_text(encoding="utf-8")
            list(os.walk(root))
        (root / "last.txt").write_text("written\n", encoding="utf-8")
        end = time.monotonic() + 10
        while str(root / "last.txt") not in seen and time.monotonic() < end:
            time.sleep(0.02)
        assert str(root / "last.txt") in seen
        assert not {"opened", "closed_no_write"} & set(raw), raw
    finally:
        watcher.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's inotify queue")
def test_watcher_reports_a_real_kernel_queue_overflow(tmp_path):
    """Events lost to an overflow of the kernel's queue reach on_overflow, so the daemon scans at once instead
    of at the next period. The overflow is real: a child process touches more files than the queue holds
    while this process holds the GIL, so the observer's threads cannot drain the queue."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"the inotify queue holds {limit} events here: too many files to overflow it in a test")
    root = tmp_path / "watched"
    root.mkdir()
    for i in range(limit + 2_000):
        (root / f"f{i}").touch()
    overflowed = threading.Event()
    watcher = Watcher(lambda paths: None, on_overflow=overflowed.set)
    watcher.watch([str(root)])
    watcher.start()
    try:
        time.sleep(0.2)
        assert not overflowed.is_set()
        touch_all = "import os, sys\nfor n in os.listdir(sys.argv[1]): os.utime(os.path.join(sys.argv[1], n))"
        child = subprocess.Popen([sys.executable, "-c", touch_all, str(root)])
        status = ctypes.c_int()
        # PyDLL keeps the GIL through the call: the wait holds every Python thread here until the child is done
        assert ctypes.PyDLL(None).waitpid(child.pid, ctypes.byref(status), 0) == child.pid
        child.returncode = os.waitstatus_to_exitcode(status.value)
        assert child.returncode == 0
        assert overflowed.wait(30)
    finally:
        watcher.stop()


def test_watcher_stops_listening_for_overflows_when_stopped():
    logger = logging.getLogger("watchdog.observers")
    before = list(logger.handlers)
    calls: list[int] = []
    watcher = Watcher(lambda paths: None, on_overflow=lambda: calls.append(1))
    watcher.start()
    logger.warning("Inotify queue overflowed; filesystem events were lost")
    logger.warning("something else")
    watcher.stop()
    logger.warning("Inotify queue overflowed; filesystem events were lost")
    assert calls == [1]
    assert logger.handlers == before


def test_watcher_records_a_folder_it_cannot_watch(tmp_path):
    watcher = Watcher(lambda paths: None)
    watcher.watch([str(tmp_path / "missing")])
    assert str(tmp_path / "missing") in watcher.problems
    (tmp_path / "missing").mkdir()
    watcher.watch([str(tmp_path / "missing")])
    assert watcher.problems == {}
