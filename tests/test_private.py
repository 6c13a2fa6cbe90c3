"""Private by default (issue 15, items 2 and 3): ragd's folders are 0700 and its files 0600, old ones are
tightened; a home, data or state folder another user can write to is refused; links planted in the state
folder are never followed. The real CLI and a real daemon, on real files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ragd.connectors.files import FilesConnector
from ragd.daemon.server.security import ensure_token, read_daemon_file, read_token
from ragd.index.answer.history import HistorySettings, remember
from ragd.index.answer.models import Answer
from ragd.index.isolate import ParsePool
from ragd.index.pipeline import Indexer
from ragd.index.private import PrivacyError, check_folders, tighten
from ragd.index.store.catalog import Catalog
from ragd.index.store.embed_cache import EmbeddingCache
from tests.daemon_proc import Daemon
from tests.fakes import HashingEmbedder, MemoryVectors
from tests.helpers import REPO, ragd, ragd_cmd, ragd_env

OTHER_UID = 54321  # a user that is not us (tests run as root, and root can chown)
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def not_private(*roots: Path) -> list[str]:
    """Every file that is not 0600 and every folder that is not 0700 under ``roots`` (and the roots)."""
    bad = []
    for root in roots:
        for path in [root, *root.rglob("*")]:
            want = 0o700 if path.is_dir() else 0o600
            if not path.is_symlink() and mode(path) != want:
                bad.append(f"{path.relative_to(root.parent)} {mode(path):o}")
    return bad


def docs(base: Path) -> Path:
    folder = base / "docs"
    folder.mkdir(parents=True)
    (folder / "kelp.md").write_text("# Kelp\n\nThe kelp forest shelters sea otters and urchins.\n")
    (folder / "moth.txt").write_text("The luna moth lives only a week as an adult.\n")
    return folder


def answer() -> Answer:
    return Answer(question="What do otters eat?", answer="Urchins.", grounded=True, model="test")


def one_line_refusal(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ragd: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def serve_refused(home: Path, folder: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `ragd serve`, which must stop by itself; a daemon that starts instead fails the test at once."""
    proc = subprocess.Popen(ragd_cmd("serve", str(folder), "--port", "0"), env=ragd_env(home), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if (home / "state" / "daemon.json").exists() or time.monotonic() > end:
                proc.kill()
                _, err = proc.communicate()
                raise AssertionError(f"ragd serve started instead of refusing:\n{err[-2000:]}")
            time.sleep(0.1)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# -- private files ------------------------------------------------------------------------------------
def test_stores_made_in_process_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)  # what an ordinary shell has (and what older versions left their files with)
    try:
        data = tmp_path / "home" / "data"
        catalog = Catalog(data / "catalog.sqlite")
        cache = EmbeddingCache(data / "embeddings.sqlite")
        indexer = Indexer(catalog, cache, MemoryVectors(), HashingEmbedder(),
                          lambda: ParsePool(workers=1, timeout_s=30), chunk_tokens=64)
        assert indexer.run([FilesConnector(docs(tmp_path))]).files_indexed == 2
        assert remember(answer(), data / "history.sqlite", HistorySettings()) == 1
        names = {p.name for p in data.iterdir()}
        assert {"catalog.sqlite", "catalog.sqlite-wal", "embeddings.sqlite", "history.sqlite"} <= names
        assert not_private(data) == []
        catalog.close()
    finally:
        os.umask(old)


@pytest.mark.slow
def test_a_real_daemon_writes_only_private_files(tmp_path):
    folder = docs(tmp_path)
    daemon = Daemon(tmp_path / "home", [folder], RAGD_EMBEDDER="minilm").start()
    try:
        assert daemon.settled()["indexed"] == 2
        assert daemon.search("sea otters kelp")[0]["path"] == str(folder / "kelp.md")
        data, state = daemon.home / "data", daemon.home / "state"
        assert (data / "chroma" / "chroma.sqlite3").exists() and any(p.is_dir() for p in (data / "chroma").iterdir())
        assert {"api-token", "daemon.json", "writer.lock"} <= {p.name for p in state.iterdir()}
        assert not_private(data, state) == []
    finally:
        daemon.stop_quietly()


def test_files_older_versions_left_readable_are_tightened_with_a_note(tmp_path):
    home = tmp_path / "home"
    data, state = home / "data", home / "state"
    Catalog(data / "catalog.sqlite").close()
    (data / "catalog.sqlite").chmod(0o644)
    segment = data / "chroma" / "0f3c-segment"
    segment.mkdir(parents=True)
    outside = tmp_path / "outside.txt"  # a link inside points here: it must not be changed
    for path, text in [(data / "catalog.sqlite-wal", ""), (data / "embeddings.sqlite", ""),
                       (data / "chroma" / "chroma.sqlite3", ""), (segment / "data_level0.bin", "x"),
                       (state / "api-token", "t" * 43 + "\n"), (outside, "mine")]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
    (data / "link").symlink_to(outside)
    for folder in (data, data / "chroma", segment, state):
        folder.chmod(0o755)
    proc = ragd(home, "status", "--json", RAGD_NO_DAEMON="1")
    assert json.loads(proc.stdout)["files"] == 0
    assert "made 10 files and folders private" in proc.stderr, proc.stderr
    assert not_private(data, state) == []
    assert mode(outside) == 0o644
    again = ragd(home, "status", "--json", RAGD_NO_DAEMON="1")
    assert "private" not in again.stderr  # one note, once


def test_tighten_leaves_other_users_files_and_links_alone(tmp_path):
    root = tmp_path / "data"
    root.mkdir(mode=0o755)
    mine, theirs, target = root / "mine", root / "theirs", tmp_path / "target"
    for path in (mine, theirs, target):
        path.write_text("x")
        path.chmod(0o644)
    if os.geteuid() == 0:
        os.chown(theirs, OTHER_UID, OTHER_UID)
    (root / "link").symlink_to(target)
    changed = tighten([root])
    assert set(changed) == {root, mine} | ({theirs} if os.geteuid() != 0 else set())
    assert (mode(mine), mode(target)) == (0o600, 0o644)


# -- folders another user can write to ----------------------------------------------------------------
@pytest.mark.parametrize("shared", ["home", "state"])
def test_a_folder_everyone_can_write_to_is_refused(tmp_path, shared):
    folder = docs(tmp_path)
    home = tmp_path / "home"
    (home / "state").mkdir(parents=True)
    (home if shared == "home" else home / "state").chmod(0o777)
    refusal = one_line_refusal(serve_refused(home, folder), "refusing to use", "writable by every user", "chmod go-w")
    assert str(home / "state" if shared == "state" else home) in refusal
    one_line_refusal(ragd(home, "index", str(folder), check=False), "refusing to use")
    assert not (home / "data").exists() and not (home / "state" / "api-token").exists()


@as_root
def test_a_home_owned_by_another_user_is_refused(tmp_path):
    folder = docs(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, OTHER_UID, OTHER_UID)
    one_line_refusal(serve_refused(home, folder), "refusing to use", f"owned by another user (uid {OTHER_UID})")


def test_a_sticky_shared_parent_is_fine_but_not_as_the_folder_itself(tmp_path):
    own = tmp_path / "own"
    own.mkdir(mode=0o700)
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    check_folders([own], parents=[sticky])  # like a data folder in /tmp: others cannot move it away
    with pytest.raises(PrivacyError, match="writable by every user"):
        check_folders([sticky])


# -- links planted in the state folder ----------------------------------------------------------------
def plant(state: Path, name: str, target: Path, text: str) -> Path:
    state.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(0o644)
    (state / name).symlink_to(target)
    return target


def test_a_planted_token_link_is_refused_and_its_target_untouched(tmp_path):
    folder = docs(tmp_path)
    home = tmp_path / "home"
    chosen = "attacker-chosen-token-" + "a" * 30
    target = plant(home / "state", "api-token", tmp_path / "attacker-token", chosen + "\n")
    one_line_refusal(serve_refused(home, folder), "api-token", "symbolic link")
    assert (mode(target), target.read_text()) == (0o644, chosen + "\n")
    assert not (home / "state" / "daemon.json").exists()  # no daemon accepts the chosen token
    with pytest.raises(PrivacyError, match="symbolic link"):
        ensure_token(home / "state" / "api-token")
    assert read_token(home / "state" / "api-token") is None  # a client never sends it either
    assert mode(target) == 0o644


@as_root
def test_a_token_file_of_another_user_is_refused(tmp_path):
    path = tmp_path / "state" / "api-token"
    path.parent.mkdir()
    path.write_text("b" * 43 + "\n")
    os.chown(path, OTHER_UID, OTHER_UID)
    with pytest.raises(PrivacyError, match=f"another user \\(uid {OTHER_UID}\\)"):
        ensure_token(path)


def test_a_planted_lock_link_never_truncates_its_target(tmp_path):
    folder = docs(tmp_path)
    home = tmp_path / "home"
    target = plant(home / "state", "writer.lock", tmp_path / "precious.txt", "precious data\n")
    one_line_refusal(ragd(home, "index", str(folder), check=False), "writer.lock", "symbolic link")
    assert (target.read_text(), mode(target)) == ("precious data\n", 0o644)


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def impostor():
    """A server on loopback that answers like a daemon and records the tokens sent to it."""
    handler = type("Recorder", (_Recorder,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("how", ["link", pytest.param("owner", marks=as_root)])
def test_a_planted_daemon_file_is_ignored(tmp_path, impostor, how):
    url, seen = impostor
    home = tmp_path / "home"
    state = home / "state"
    token = ensure_token(state / "api-token")
    planted = json.dumps({"url": url, "pid": os.getpid()})
    if how == "link":
        plant(state, "daemon.json", tmp_path / "their-daemon.json", planted)
    else:
        (state / "daemon.json").write_text(planted)
        os.chown(state / "daemon.json", OTHER_UID, OTHER_UID)
    proc = ragd(home, "status", "--json", check=False)
    assert not any(token in header for header in seen), "the user's token was sent to the planted address"
    assert seen == []
    assert proc.returncode == 0 and json.loads(proc.stdout)["daemon"] is None, proc.stderr  # in-process instead
    assert read_daemon_file(state / "daemon.json") is None
