"""The client/server vector store: ragd against a real `chroma run` server on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import ragd, ragd_json

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path):
    exe = shutil.which("chroma") or str(Path(__import__("sys").executable).parent / "chroma")
    port = _free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("chroma server did not start")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_index_search_verify_through_a_chroma_server(tmp_path, chroma_server, shared_data):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(shared_data / "squad_en/docs/Ctenophora.md", docs)
    shutil.copy(shared_data / "jsquad_ja/docs/石油.md", docs)
    env = {"RAGD_VECTOR_STORE": "chroma-http", "RAGD_CHROMA_URL": chroma_server}
    stats = ragd_json(tmp_path, "index", str(docs), **env)
    assert stats["files_indexed"] == 2 and stats["chunks_embedded"] > 10
    assert not (tmp_path / "data" / "chroma").exists()  # nothing went to the embedded store
    hits = ragd_json(tmp_path, "search", "How do ctenophores move with their comb rows?", "-k", "2", **env)
    assert hits[0]["path"].endswith("Ctenophora.md")
    hits = ragd_json(tmp_path, "search", "石油の主成分は何ですか", "-k", "2", **env)
    assert hits[0]["path"].endswith("石油.md")
    assert ragd_json(tmp_path, "verify", **env)["ok"] is True
    (docs / "Ctenophora.md").unlink()
    assert ragd_json(tmp_path, "index", **env)["files_removed"] == 1
    assert ragd_json(tmp_path, "verify", **env)["ok"] is True


def test_unreachable_chroma_server_is_a_clear_error(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("hello")
    proc = ragd(tmp_path, "index", str(tmp_path / "docs"), check=False, RAGD_VECTOR_STORE="chroma-http",
                RAGD_CHROMA_URL=f"http://127.0.0.1:{_free_port()}")
    assert proc.returncode == 1 and "cannot reach the Chroma server" in proc.stderr
    assert "Traceback" not in proc.stderr
