"""Damaged stores and a full disk with the real parts: the real `ragd` CLI and `ragd serve`, the real
embedder, the real Chroma, and (for the full disk) a real small filesystem (tmpfs) that fills up.

Each damage test works on a copy of one home indexed once by the module's fixture.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_proc import Daemon, wait_until
from tests.helpers import ragd, ragd_json

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

NOTES = 200
TOPICS = ["glacier", "volcano", "harbour", "orchard", "comet", "desert", "reef", "canyon"]


def _write_notes(folder: Path, count: int, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        topic = TOPICS[i % len(TOPICS)]
        text = "\n\n".join(f"Field note {i}.{j} about the {topic}: observation number {i * 10 + j} was written "
                           f"down by keeper {i} near marker {j}." for j in range(6))
        (folder / f"note-{i:04d}.txt").write_text(text + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("faults")
    docs = base / "docs"
    _write_notes(docs, NOTES)  # over 1,000 vectors: Chroma writes its graph files (below that it keeps a log)
    home = base / "home"
    home.mkdir()
    (home / "config.toml").write_text("unit_tokens = 6\n", encoding="utf-8")  # a vector per sentence: over 1,000
    stats = ragd_json(home, "index", str(docs))
    assert stats["files_indexed"] == NOTES and stats["files_failed"] == 0 and stats["vectors_embedded"] > 1000
    return home, docs


@pytest.fixture
def home(indexed, tmp_path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(indexed[0], copy, symlinks=True)
    return copy


def _search(home: Path, query: str, **env: str) -> subprocess.CompletedProcess[str]:
    return ragd(home, "search", query, "--json", check=False, RAGD_NO_DAEMON="1", **env)


def _one_clear_line(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 1, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr and "Segmentation" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ragd: "), proc.stderr[-2000:]
    for word in words:
        assert word in last, last


def _garble(path: Path, at: int = 0, size: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    end = len(data) if size is None else min(len(data), at + size)
    data[at:end] = bytes((i * 167 + 13) % 251 for i in range(end - at))
    path.write_bytes(bytes(data))


def _hnsw_file(home: Path) -> Path:
    found = sorted((home / "data" / "chroma").glob("*/data_level0.bin"))
    assert found, "no HNSW segment file in the vector store"
    return found[0]


@pytest.fixture
def daemon_for(tmp_path) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.stop_quietly()


# -- the vector store ------------------------------------------------------------------------------
def test_a_vector_store_that_crashes_native_code_is_a_message_then_repaired(home, indexed):
    before = json.loads(_search(home, "comet observation keeper").stdout)
    _garble(_hnsw_file(home))  # Chroma's graph file: querying it crashes the process (SIGSEGV)
    verify = ragd(home, "verify", check=False, RAGD_NO_DAEMON="1")
    assert verify.returncode == 1 and "vector store" in verify.stdout and "ragd repair" in verify.stdout, verify
    _one_clear_line(_search(home, "comet observation keeper"), "vector store", "damaged", "ragd repair")
    repaired = ragd(home, "repair", check=False, RAGD_NO_DAEMON="1")
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    assert "vector store: damaged" in repaired.stdout and "moved aside" in repaired.stdout, repaired.stdout
    assert ragd_json(home, "verify", RAGD_NO_DAEMON="1") == {"ok": True, "problems": []}
    after = json.loads(_search(home, "comet observation keeper").stdout)
    assert [h["path"] for h in after] == [h["path"] for h in before]
    assert list((home / "data").glob("chroma.damaged-*")), "the damaged store is kept aside, not deleted"


def test_the_daemon_rebuilds_a_damaged_vector_store_when_it_starts(home, indexed, daemon_for):
    _garble(_hnsw_file(home))
    daemon = Daemon(home, [indexed[1]])
    daemon_for.append(daemon)
    daemon.start()
    status = daemon.settled()
    repaired = [p for p in status["problems"] if p["status"] == "repaired"]
    assert repaired and "vector store" in repaired[0]["reason"], status["problems"]
    assert status["indexed"] == NOTES
    assert daemon.search("comet observation keeper")
    assert daemon.api().get("/v1/verify").json() == {"ok": True, "problems": []}


def test_garbage_in_chroma_sqlite_is_a_message_then_repaired(home):
    _garble(home / "data" / "chroma" / "chroma.sqlite3", 0, 4096)
    _one_clear_line(_search(home, "glacier"), "vector store", "damaged")
    assert ragd(home, "repair", check=False, RAGD_NO_DAEMON="1").returncode == 0
    assert ragd_json(home, "verify", RAGD_NO_DAEMON="1") == {"ok": True, "problems": []}
    assert json.loads(_search(home, "glacier keeper").stdout)


# -- the catalog -------------------------------------------------------------------------------------
def test_a_truncated_catalog_is_a_message_and_the_daemon_rebuilds_it(home, indexed, daemon_for):
    history = home / "data" / "history.sqlite"
    history.write_bytes(b"kept")  # the repair never touches the question history
    catalog = home / "data" / "catalog.sqlite"
    catalog.write_bytes(catalog.read_bytes()[: catalog.stat().st_size // 2])
    _one_clear_line(_search(home, "glacier"), "damaged", "ragd repair")
    _one_clear_line(ragd(home, "status", check=False, RAGD_NO_DAEMON="1"), "damaged")
    verify = ragd(home, "verify", check=False, RAGD_NO_DAEMON="1")
    assert verify.returncode == 1 and "catalog" in verify.stdout and "damaged" in verify.stdout, verify
    daemon = Daemon(home, [indexed[1]])
    daemon_for.append(daemon)
    daemon.start()
    status = wait_until(lambda: (s := daemon.settled())["indexed"] == NOTES and s, 300, "the re-index")
    assert any(p["status"] == "repaired" and "catalog" in p["reason"] for p in status["problems"])
    assert status["sources"] == [str(indexed[1])]  # salvaged from the damaged file
    assert daemon.search("reef observation")
    assert daemon.api().get("/v1/verify").json() == {"ok": True, "problems": []}
    assert history.read_bytes() == b"kept"


# -- a full disk ---------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave_mb: float) -> Path:
    ballast = disk / "ballast"
    free = shutil.disk_usage(disk).free
    with open(ballast, "wb") as f:
        f.truncate(0)
        size = int(free - leave_mb * 1024 * 1024)
        chunk = b"\0" * (1 << 20)
        while size > 0:
            f.write(chunk[: min(size, len(chunk))])
            size -= len(chunk)
    return ballast


def test_a_full_disk_is_a_state_and_indexing_resumes_when_space_returns(small_disk, tmp_path, daemon_for):
    docs = tmp_path / "docs"
    _write_notes(docs, 8)
    daemon = Daemon(small_disk / "home", [docs], RAGD_MIN_FREE_MB="8")
    daemon_for.append(daemon)
    daemon.start()
    assert daemon.settled()["indexed"] == 8
    ballast = _fill(small_disk, 10)  # 10 MB left, 8 MB of them the reserve
    _write_notes(docs, 400, start=8)
    status = wait_until(lambda: (s := daemon.status())["indexing"]["state"] == "out_of_space" and s, 300,
                        "the out-of-space state")
    problem = status["problems"][0]
    assert problem["status"] == "out_of_space" and "resumes by itself" in problem["reason"], problem
    assert status["indexed"] < 408 and status["indexing"]["last_error"] is None
    assert daemon.api().get("/healthz").status_code == 200
    assert daemon.search("field note glacier keeper")  # what is indexed still answers
    ballast.unlink()
    settled = wait_until(lambda: (s := daemon.settled())["indexed"] == 408 and s, 600, "indexing to resume")
    assert all(p["status"] != "out_of_space" for p in settled["problems"])
    assert daemon.api().get("/v1/verify").json() == {"ok": True, "problems": []}
    assert daemon.search("observation number 4075") or daemon.search("keeper 407 marker")
    assert daemon.terminate(60) in (0, -15)  # SIGTERM still ends it (uvicorn re-raises the signal it handled)
