"""ParsePool: hangs, memory hogs and crashes cost one file's error; the pool goes on.

The misbehaving parsers are registered by this module for fake suffixes; the pool imports
it in its workers through ``extra_modules``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragd.index.isolate import ParsePool, _Worker
from ragd.index.models import Document, Part
from ragd.index.parse import register

HERE = "tests.test_isolate"


class _Fake:
    def __init__(self, suffix: str, action: str) -> None:
        self.suffixes: tuple[str, ...] = (suffix,)
        self.action = action

    def parse(self, path: Path, data: bytes) -> list[Document]:
        if self.action == "hang":
            time.sleep(3600)
        elif self.action == "slow":
            time.sleep(0.8)
        elif self.action == "hog":
            hoard = []
            while True:
                hoard.append(bytearray(32 << 20))
        elif self.action == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif self.action == "exit":
            os._exit(7)
        elif self.action == "bug":
            raise KeyError("oops")
        return [Document(parts=[Part(data.decode())], meta={"pid": str(os.getpid())})]


for _suffix, _action in ((".hang", "hang"), (".slow", "slow"), (".hog", "hog"), (".segv", "segfault"),
                         (".exit", "exit"), (".bug", "bug"), (".okay", "ok")):
    register(_Fake(_suffix, _action))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    names = ("a.hang", "a.slow", "a.hog", "a.segv", "a.exit", "a.bug", "a.okay", "b.okay", "c.unknownext")
    for name in names:
        path = tmp_path / name
        path.write_text(f"content of {name}")
        out[name] = path
    return out


def pid_of(result) -> str:
    assert result.error is None, result.error
    pid: str = result.documents[0].meta["pid"]
    return pid


def test_hang_times_out_and_pool_goes_on(files: dict[str, Path]) -> None:
    with ParsePool(workers=1, timeout_s=1.0, memory_mb=512, extra_modules=[HERE]) as pool:
        started = time.monotonic()
        results = dict(pool.parse_many([files["a.hang"], files["a.okay"]]))
        assert time.monotonic() - started < 10
    assert results[files["a.hang"]].error == "timed out after 1 s"
    assert results[files["a.hang"]].documents is None
    assert results[files["a.okay"]].documents[0].parts[0].text == "content of a.okay"


def test_memory_hog_is_stopped_by_the_limit(files: dict[str, Path]) -> None:
    with ParsePool(workers=1, timeout_s=20, memory_mb=256, extra_modules=[HERE]) as pool:
        hog = pool.parse(files["a.hog"])
        assert hog.error == "parser ran out of memory (limit 256 MB)" and not hog.unsupported
        assert pool.parse(files["a.okay"]).documents is not None


def test_segfault_and_exit_are_reported_and_worker_replaced(files: dict[str, Path]) -> None:
    with ParsePool(workers=1, timeout_s=20, memory_mb=512, extra_modules=[HERE]) as pool:
        before = pid_of(pool.parse(files["a.okay"]))
        assert pid_of(pool.parse(files["b.okay"])) == before  # one worker serves many files
        assert pool.parse(files["a.segv"]).error == "parser process died (signal 11, SIGSEGV)"
        after = pid_of(pool.parse(files["a.okay"]))
        assert after != before
        assert pool.parse(files["a.exit"]).error == "parser process exited unexpectedly (exit code 7)"
        bug = pool.parse(files["a.bug"])
        assert bug.error == "cannot parse: KeyError: 'oops'"
        assert pool.parse(files["a.okay"]).documents is not None


def test_parse_many_runs_in_parallel_and_yields_as_finished(files: dict[str, Path]) -> None:
    order = [files["a.slow"], files["a.okay"], files["c.unknownext"], files["b.okay"]]
    with ParsePool(workers=2, timeout_s=20, extra_modules=[HERE]) as pool:
        started = time.monotonic()
        results = list(pool.parse_many(order))
        elapsed = time.monotonic() - started
    paths = [p for p, _ in results]
    assert sorted(map(str, paths)) == sorted(map(str, order))
    assert all(p is q for p, q in zip(sorted(paths, key=str), sorted(order, key=str), strict=True))
    assert paths.index(files["b.okay"]) < paths.index(files["a.slow"])  # did not wait behind the slow one
    unknown = dict(results)[files["c.unknownext"]]
    assert unknown.unsupported and unknown.error == "unsupported file type: .unknownext"
    assert elapsed < 5


def test_close_ends_workers_and_abandoned_iteration_kills_busy_ones(files: dict[str, Path]) -> None:
    pool = ParsePool(workers=2, timeout_s=60, extra_modules=[HERE])
    pid = int(pid_of(pool.parse(files["a.okay"])))
    it = pool.parse_many([files["a.hang"], files["a.okay"]])
    next(it)  # the quick one
    it.close()  # the hanging one is killed, not left running
    pool.close()
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(RuntimeError):
        pool.parse(files["a.okay"])


CHILD = """
import sys, time
from pathlib import Path
from ragd.index.isolate import ParsePool
pool = ParsePool(timeout_s=600, extra_modules=["tests.test_isolate"])
worker = pool._start()
worker.send(Path(sys.argv[1]))
print(worker.proc.pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # exited, waiting to be reaped by init


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_worker_does_not_outlive_a_killed_parent(files: dict[str, Path]) -> None:
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(files["a.hang"])], cwd=root,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        worker_pid = int(child.stdout.readline())
        assert not _gone(worker_pid)
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 5
    while not _gone(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(worker_pid)


def test_a_worker_whose_pool_hangs_up_mid_job_leaves_quietly(files: dict[str, Path], capfd) -> None:
    """ragd stopping mid-parse closes its end of the socket: the worker exits without a broken pipe's
    traceback in the daemon's log."""
    worker = _Worker(memory_mb=512, cpu_s=60, modules=[HERE])
    try:
        assert worker.send(files["a.slow"])  # 0.8 s: the pool hangs up before the reply
        worker.conn.close()
        assert worker.proc.wait(timeout=30) == 0
    finally:
        worker.kill()
    assert "Traceback" not in capfd.readouterr().err
