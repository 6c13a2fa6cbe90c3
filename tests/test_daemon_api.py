"""The daemon's REST API in-process: the real Runtime (writer thread, watchdog observer, scheduler,
parser pool, SQLite catalog) with a fake embedder, vector store and LLM through their seams."""

from __future__ import annotations

import json
import logging
import os
import time

import pytest
from starlette.testclient import TestClient

from ragd.daemon import config as config_mod
from ragd.daemon.server.api.contract import MAX_QUERY
from ragd.daemon.server.api.openai_compat import NO_QUESTION
from ragd.daemon.server.app import create_app
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from ragd.daemon.service.remote import scope_fields
from ragd.index.scope import scope_of
from tests.fakes import HashingEmbedder, MemoryVectors, ScriptedLLM
from tests.inprocess import AUTH, TOKEN, serving, settle, wait_until

GARDEN = "Garden log.\n\nThe tomatoes were planted on the ninth of April, beside the fence.\n"


@pytest.fixture
def env(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "garden.txt").write_text(GARDEN, encoding="utf-8")
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    runtime = Runtime(config, {}, settings=ServerSettings(debounce_s=0.05, reconcile_minutes=0),
                      embedder=HashingEmbedder(), vectors=MemoryVectors(),
                      llm=ScriptedLLM("The tomatoes were planted on the ninth of April [1]."))
    runtime.acquire()
    runtime.writes.catalog.add_source(str(docs))
    with serving(runtime) as client:
        yield client, runtime, docs, tmp_path


def paths(client, query, mode="lexical"):
    return [h["path"] for h in client.post("/v1/search", json={"query": query, "mode": mode}).json()["hits"]]


def test_status_search_and_ask(env):
    client, _, docs, _ = env
    status = settle(client)
    assert status["indexed"] == 1 and status["sources"] == [str(docs)] and status["paused"] is False
    assert {"queued", "batch", "current", "eta_s", "totals"} <= set(status["indexing"])
    assert paths(client, "tomatoes planted") == [str(docs / "garden.txt")]
    answer = client.post("/v1/ask", json={"question": "When were the tomatoes planted?"}).json()
    assert answer["grounded"] is True and answer["citations"][0]["path"] == str(docs / "garden.txt")
    assert answer["citations"][0]["line_start"] == 3


def test_ask_streams_tokens_then_the_answer(env):
    client, _, _, _ = env
    settle(client)
    with client.stream("POST", "/v1/ask", json={"question": "When were the tomatoes planted?", "stream": True}) as r:
        body = "".join(r.iter_text())
    events = [(block.split("\n")[0].removeprefix("event: "), block) for block in body.strip().split("\r\n\r\n")]
    kinds = [k.strip() for k, _ in events if not k.startswith(":")]
    assert kinds[0] == "token" and kinds[-1] == "answer"
    final = json.loads(events[-1][1].split("data: ", 1)[1])
    assert final["grounded"] is True


def test_ask_before_anything_is_indexed_is_a_409(tmp_path):
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    runtime = Runtime(config, {}, settings=ServerSettings(reconcile_minutes=0), embedder=HashingEmbedder(),
                      vectors=MemoryVectors(), llm=ScriptedLLM("x"))
    app = create_app(runtime, TOKEN, 8765, start=runtime.start, stop=runtime.stop)
    with TestClient(app, base_url="http://127.0.0.1:8765", headers=AUTH) as client:
        r = client.post("/v1/ask", json={"question": "anything?"})
        assert r.status_code == 409 and "nothing is indexed" in r.json()["error"]["message"]


def test_sources_add_remove_and_errors(env):
    client, _, _, tmp = env
    settle(client)
    more = tmp / "more"
    more.mkdir()
    (more / "ships.txt").write_text("The lighthouse keeper logs every passing ship.\n", encoding="utf-8")
    r = client.post("/v1/sources", json={"path": str(more)})
    assert r.status_code == 201 and r.json()["added"] is True
    wait_until(lambda: paths(client, "lighthouse keeper") == [str(more / "ships.txt")], what="the new source")
    listed = {s["path"]: s for s in client.get("/v1/sources").json()}
    assert listed[str(more)]["files"] == 1 and listed[str(more)]["watched"] is True
    (more / "late.txt").write_text("A late note about harbour cranes.\n", encoding="utf-8")
    wait_until(lambda: paths(client, "harbour cranes"), what="a file in the new source")  # it is watched
    r = client.delete("/v1/sources", params={"path": str(more)})
    assert r.status_code == 200 and r.json()["files_dropped"] == 2
    assert paths(client, "lighthouse keeper") == []
    assert client.delete("/v1/sources", params={"path": str(more)}).status_code == 404
    r = client.post("/v1/sources", json={"path": str(tmp / "missing")})
    assert r.status_code == 400 and "no such file" in r.json()["error"]["message"]


def test_pause_holds_changes_until_resume(env):
    client, _, docs, _ = env
    settle(client)
    assert client.post("/v1/pause").json() == {"paused": True}
    (docs / "later.txt").write_text("Notes on the walrus colony.\n", encoding="utf-8")
    time.sleep(0.5)
    status = client.get("/v1/status").json()
    assert status["paused"] is True and status["indexing"]["state"] == "paused"
    assert status["indexing"]["queued"] >= 1 and paths(client, "walrus colony") == []
    assert client.get("/v1/verify").json()["ok"] is True  # jobs still run while paused
    client.post("/v1/resume")
    wait_until(lambda: paths(client, "walrus colony"), what="the change after resume")


def test_documents_only_for_indexed_files(env):
    client, _, docs, tmp = env
    settle(client)
    record = client.get("/v1/documents", params={"path": str(docs / "garden.txt")}).json()
    assert record["status"] == "indexed" and record["chunks"] >= 1
    ctx = client.get("/v1/documents/context", params={"path": str(docs / "garden.txt"), "line_start": 3,
                                                      "line_end": 3, "around": 5}).json()
    assert [(line["n"], line["cited"]) for line in ctx["lines"]] == [(1, False), (2, False), (3, True)]
    outside = tmp / "secret.txt"
    outside.write_text("not indexed\n", encoding="utf-8")
    for path in [str(outside), str(docs / ".." / "secret.txt"), "/etc/passwd", "relative/garden.txt"]:
        assert client.get("/v1/documents/context", params={"path": path}).status_code == 404
        assert client.get("/v1/documents", params={"path": path}).status_code == 404
    r = client.get("/v1/documents/context", params={"path": str(docs / "garden.txt"), "line_start": 5,
                                                    "line_end": 2})
    assert r.status_code == 422


def test_reconcile_after_changes_made_while_stopped(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha notes on glaciers.\n", encoding="utf-8")
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    vectors = MemoryVectors()

    def run_daemon(check):
        runtime = Runtime(config, {}, settings=ServerSettings(debounce_s=0.05, reconcile_minutes=0),
                          embedder=HashingEmbedder(), vectors=vectors, llm=ScriptedLLM("x"))
        runtime.acquire()
        runtime.writes.catalog.add_source(str(docs))
        app = create_app(runtime, TOKEN, 8765, start=runtime.start, stop=runtime.stop)
        with TestClient(app, base_url="http://127.0.0.1:8765", headers=AUTH) as client:
            settle(client)
            check(client)

    run_daemon(lambda c: paths(c, "glaciers") == [str(docs / "a.txt")] or pytest.fail("not indexed"))
    (docs / "a.txt").unlink()  # while the daemon is down
    (docs / "b.txt").write_text("Beta notes on fjords.\n", encoding="utf-8")

    def after(client):
        assert paths(client, "glaciers") == []
        assert paths(client, "fjords") == [str(docs / "b.txt")]
        assert client.get("/v1/verify").json() == {"ok": True, "problems": []}

    run_daemon(after)


# -- the web page's session and endpoints ----------------------------------------------------------------
def test_one_time_link_gives_a_cookie_that_works_only_from_the_page(env):
    client, _, _, _ = env
    settle(client)
    url = client.post("/v1/session/link", json={"next": "/#sources"}).json()["url"]
    assert url.startswith("http://127.0.0.1:8765/session?code=")
    browser = TestClient(client.app, base_url="http://127.0.0.1:8765")  # no token
    assert browser.get("/").status_code == 200  # the page holds no data
    assert browser.get("/v1/status").status_code == 401
    r = browser.get(url.removeprefix("http://127.0.0.1:8765"), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/#sources"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "ragd_session=" in cookie
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    assert browser.get("/v1/status", headers=same_origin).status_code == 200
    assert browser.get("/v1/status").status_code == 401  # the cookie alone is not enough
    assert browser.post("/v1/search", json={"query": "tomatoes"},
                        headers={"Origin": "http://127.0.0.1:8765"}).status_code == 200
    assert browser.post("/v1/search", json={"query": "tomatoes"},
                        headers={"Origin": "http://evil.example"}).status_code == 403
    assert browser.get("/v1/status", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 401
    again = TestClient(client.app, base_url="http://127.0.0.1:8765")
    spent = again.get(url.removeprefix("http://127.0.0.1:8765"), follow_redirects=False)
    assert spent.status_code == 403 and "ragd open" in spent.text
    assert again.get("/session?code=forged", follow_redirects=False).status_code == 403
    assert client.post("/v1/session/link", json={"next": "//evil.example/"}).status_code == 422


def test_page_headers_forbid_framing_and_foreign_scripts(env):
    client, _, _, _ = env
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
    assert client.get("/docs").status_code == 404  # Swagger UI would load scripts from a CDN
    assert "/v1/search" in client.get("/openapi.json").json()["paths"]


def test_files_history_and_open(env, tmp_path):
    client, runtime, docs, _ = env
    settle(client)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    wait_until(lambda: client.get("/v1/files", params={"status": "failed"}).json()["total"] == 1,
               what="the broken file")
    page = client.get("/v1/files", params={"under": str(docs), "limit": 1}).json()
    assert page["total"] == 2 and len(page["files"]) == 1 and page["files"][0]["path"] == str(docs / "broken.pdf")
    failed = client.get("/v1/files", params={"status": "failed", "q": "BROKEN"}).json()["files"][0]
    assert failed["reason"] and failed["status"] == "failed"
    client.post("/v1/ask", json={"question": "When were the tomatoes planted?"})
    entries = client.get("/v1/history", params={"search": "tomatoes"}).json()["entries"]
    assert len(entries) == 1 and entries[0]["grounded"] is True
    assert client.get("/v1/history", params={"search": "walrus"}).json()["entries"] == []
    assert client.delete(f"/v1/history/{entries[0]['id']}").json() == {"deleted": entries[0]["id"]}
    assert client.delete(f"/v1/history/{entries[0]['id']}").status_code == 404
    record = tmp_path / "opened.txt"
    opener = tmp_path / "opener.sh"
    opener.write_text(f"#!/bin/sh\necho \"$1\" >> {record}\n", encoding="utf-8")
    opener.chmod(0o755)
    runtime.read_side.env = {**runtime.read_side.env, "RAGD_OPENER": str(opener)}  # the read side opens files
    assert client.post("/v1/open", json={"path": str(docs / "garden.txt")}).json() == {"opened": True}
    wait_until(lambda: record.exists() and record.read_text().strip() == str(docs / "garden.txt"),
               what="the opener")
    assert client.post("/v1/open", json={"path": "/etc/passwd"}).status_code == 404


def test_idle_housekeeping_returns_memory_once_per_activity(env, monkeypatch):
    client, runtime, docs, _ = env
    trims: list[float] = []
    monkeypatch.setattr("ragd.daemon.server.runtime.release_freed_memory", lambda: trims.append(time.time()) or True)
    settle(client)
    runtime._idle_housekeeping()
    runtime._idle_housekeeping()
    assert len(trims) == 1, "nothing new happened between the two runs"
    client.post("/v1/ask", json={"question": "When were the tomatoes planted?"})
    with runtime._ask_lock:  # an answer in progress: not now
        runtime._idle_housekeeping()
    assert len(trims) == 1
    runtime._idle_housekeeping()
    assert len(trims) == 2, "an answer since the last trim"
    (docs / "more.txt").write_text("Beans went in on the first of May.\n", encoding="utf-8")
    # the watcher's event may come after settle's own request on a loaded machine: wait for the file itself
    wait_until(lambda: str(docs / "more.txt") in paths(client, "beans"), what="the new file")
    settle(client)
    runtime._idle_housekeeping()
    assert len(trims) == 3, "a change written since the last trim"


def test_lost_events_start_a_scan_at_once(env):
    """When watchdog reports a kernel queue overflow, the changes it lost are found by a scan right away, not at
    the next reconcile period (off in this fixture)."""
    client, runtime, docs, _ = env
    settle(client)
    runtime.watcher.watch([])  # events for this change never arrive, as in an overflow
    (docs / "lost.txt").write_text("A note about the otter sanctuary.\n", encoding="utf-8")
    time.sleep(0.3)
    assert paths(client, "otter sanctuary") == []
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
    wait_until(lambda: paths(client, "otter sanctuary"), what="the scan after the overflow")


# -- the schema is the contract (issue 15) --------------------------------------------------------------
def test_an_offset_or_id_past_sqlite_is_a_422(env):
    """``?offset=99999999999999999999`` was an OverflowError inside SQLite (500)."""
    client, _, _, _ = env
    settle(client)
    for r in (client.get("/v1/files", params={"offset": "99999999999999999999"}),
              client.delete("/v1/history/99999999999999999999"),
              client.get("/v1/documents/context", params={"path": "/x", "line_start": 2**64})):
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] and error["details"]
    assert client.get("/v1/files", params={"offset": 2**63 - 1}).json()["files"] == []  # the largest allowed


def answered(client):
    """How many questions the model has answered (each one is in the history)."""
    return len(client.get("/v1/history", params={"limit": 500}).json()["entries"])


def test_chat_caps_the_question_as_rest_does(env):
    """A 31,900-character chat message was answered (and held the model for minutes); REST refused it."""
    client, _, _, _ = env
    settle(client)
    asked = answered(client)
    long = "x" * (MAX_QUERY + 1)
    assert client.post("/v1/ask", json={"question": long}).status_code == 422
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * 31_900}]})
    assert r.status_code == 422 and f"at most {MAX_QUERY} characters" in r.json()["error"]["message"]
    parts = [{"type": "text", "text": "x" * 3000}, {"type": "text", "text": "y" * 3000}]
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": parts}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    assert answered(client) == asked  # the model never ran
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * MAX_QUERY}]})
    assert r.status_code == 200 and answered(client) == asked + 1
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["UserMessage"]["properties"]["content"]["anyOf"][0]["maxLength"] == MAX_QUERY
    assert schema["AskRequest"]["properties"]["question"]["maxLength"] == MAX_QUERY


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/ask", {"question": "When were the tomatoes planted?", "stream": 0}),
    ("/v1/search", {"query": "tomatoes", "k": True}),
    ("/v1/search", {"query": "tomatoes", "k": "5"}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "q"}], "stream": 0}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "q"}], "stream": True,
                              "stream_options": {"include_usage": "yes"}}),
])
def test_wrong_types_are_refused_not_coerced(env, path, body):
    client, _, _, _ = env
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert client.post("/v1/search", json={"query": "tomatoes", "k": 2.0}).status_code == 200  # JSON's integer


def test_options_and_405_list_every_method_of_the_path(env):
    """``Allow`` on /v1/sources listed only GET (the first of its three routes)."""
    client, _, _, _ = env
    r = client.options("/v1/sources")
    assert r.status_code == 204 and r.headers["allow"] == "DELETE, GET, OPTIONS, POST"
    r = client.put("/v1/sources")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, OPTIONS, POST"
    assert r.json()["error"]["message"]
    assert client.options("/v1/history/7").headers["allow"] == "DELETE, OPTIONS"
    assert client.options("/nowhere").status_code == 404
    stranger = TestClient(client.app, base_url="http://127.0.0.1:8765")
    assert stranger.options("/v1/sources").status_code == 401  # behind the guard, like everything else


def test_empty_messages_match_the_schema(env):
    """``messages: []`` was a 400 that the schema allowed: now the schema forbids it (422), and a request
    the schema allows but that holds no question is answered, saying so."""
    client, _, _, _ = env
    settle(client)
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ChatRequest"]
    assert schema["properties"]["messages"]["minItems"] == 1
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 422
    asked = answered(client)
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "Be brief."}]})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == NO_QUESTION
    assert answered(client) == asked


def test_the_schema_documents_every_status(env):
    """The guard's 401/403/413 on every route, the daemon's one error body (also for 422), the bearer token."""
    client, _, _, _ = env
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            statuses = operation["responses"]
            expected = {"403", "413"} if path == "/healthz" else {"401", "403", "413"}
            assert expected <= set(statuses), (method, path)
            for code, response in statuses.items():
                if code.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == error, (method, path, code)
    assert {"400", "404", "422", "501"} <= set(schema["paths"]["/v1/open"]["post"]["responses"])
    assert {"400", "409", "422", "503"} <= set(schema["paths"]["/v1/ask"]["post"]["responses"])


def test_a_path_naming_an_unknown_users_home_is_an_answer_not_a_500(env):
    """Found by schemathesis: `~\\x07` made Path.expanduser raise (no such user)."""
    client, _, _, _ = env
    settle(client)
    assert client.post("/v1/reindex", json={"paths": ["~\x07", "~nosuchuser-ragd/x"]}).status_code == 202
    r = client.post("/v1/sources", json={"path": "~nosuchuser-ragd/notes"})
    assert r.status_code == 400 and "no such file" in r.json()["error"]["message"]


def test_idle_parse_workers_are_stopped_and_started_again_on_the_next_change(env):
    client, runtime, docs, _ = env
    settle(client)
    pool = runtime.parsers.pool
    assert pool is not None and pool._all  # the start-up scan's parser worker is still there
    worker = pool._all[0].proc
    assert not runtime._close_idle_pools(3600.0)  # used a moment ago: kept
    assert not runtime._close_idle_pools(0.0)  # 0: never
    assert runtime._close_idle_pools(1e-6) and runtime.parsers.pool is None
    assert worker.wait(10) is not None  # the process is gone, not just forgotten
    (docs / "beans.txt").write_text("The beans were sown in May.\n", encoding="utf-8")
    wait_until(lambda: paths(client, "beans sown") == [str(docs / "beans.txt")], what="the new file")
    assert runtime.parsers.pool is not None


def test_the_answer_paths_idle_parse_workers_are_stopped_too(env):
    """The citation check parses the cited file in its own pool; housekeeping lets it go like the writer's."""
    client, runtime, docs, _ = env
    settle(client)
    ask = {"question": "When were the tomatoes planted?"}
    assert client.post("/v1/ask", json=ask).json()["citations"][0]["line_start"] == 3
    pool = runtime.reads._verify_pool.pool
    assert pool is not None and pool._all
    worker = pool._all[0].proc
    assert runtime._close_idle_pools(1e-6) and runtime.reads._verify_pool.pool is None
    assert worker.wait(10) is not None
    garden = docs / "garden.txt"
    later = garden.stat().st_mtime_ns + 2_000_000_000
    os.utime(garden, ns=(later, later))  # not the parse the verifier keeps: the file is read again
    settle(client)
    again = client.post("/v1/ask", json=ask).json()  # and the pool starts again for it
    assert again["citations"][0]["line_start"] == 3 and runtime.reads._verify_pool.pool is not None


def test_scoped_search_and_ask_through_rest(env):
    client, _, docs, _ = env
    (docs / "taxes").mkdir()
    (docs / "taxes" / "receipt.md").write_text("Receipt: seed potatoes and tomato plants, 12 euros.\n",
                                               encoding="utf-8")
    os.utime(docs / "garden.txt", (time.time(), 1_600_000_000))  # 2020
    settle(client)
    assert len(paths(client, "tomato")) == 2

    def found(**scope):
        r = client.post("/v1/search", json={"query": "tomatoes tomato", "mode": "hybrid", **scope})
        assert r.status_code == 200, r.text
        return [h["path"] for h in r.json()["hits"]]

    receipt, garden = str(docs / "taxes" / "receipt.md"), str(docs / "garden.txt")
    assert found(**{"in": [str(docs / "taxes")]}) == [receipt]
    assert found(**{"in": ["taxes"]}) == [receipt]
    assert found(type=["txt"]) == [garden]
    assert found(until="2021-01-01") == [garden]
    assert found(since="7d") == [receipt]
    bad = client.post("/v1/search", json={"query": "tomato", "since": "2024-02-30"})
    assert bad.status_code == 422 and "not a date" in bad.json()["error"]["message"]
    assert client.post("/v1/search", json={"query": "tomato", "until": "9999-12-31"}).status_code == 422  # not a 500
    typo = client.post("/v1/search", json={"query": "tomato", "type": ["pfd"]})  # not an empty list of hits
    assert typo.status_code == 422 and "did you mean pdf" in typo.json()["error"]["message"]
    # what the CLI sends through the daemon: the scope's own JSON (dates with their offset)
    sent = scope_fields(scope_of(within=[str(docs / "taxes")], since="2000-01-01", until="2999-01-01"))
    assert found(**sent) == [receipt]
    assert sorted(found(**{"in": ["/"]})) == sorted([garden, receipt])
    answer = client.post("/v1/ask", json={"question": "When were the tomatoes planted?", "type": ["txt"]}).json()
    assert answer["scope"]["type"] == ["txt"] and answer["citations"][0]["path"] == garden
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("SearchRequest", "AskRequest"):
        assert {"in", "type", "since", "until"} <= set(schema[model]["properties"])


def test_a_conversation_through_rest(env):
    client, _, docs, _ = env
    settle(client)
    first = client.post("/v1/ask", json={"question": "When were the garden tomatoes planted?",
                                         "conversation": "garden-1"}).json()
    assert first["conversation"] == "garden-1" and first["searched"] == first["question"]
    second = client.post("/v1/ask", json={"question": "Where were they planted?", "conversation": "garden-1"}).json()
    assert second["searched"] != "Where were they planted?" and "tomatoes" in second["searched"]
    assert second["citations"] and second["citations"][0]["path"] == str(docs / "garden.txt"), second
    turns = client.get("/v1/history", params={"conversation": "garden-1"}).json()["entries"]
    assert [t["question"] for t in turns] == ["When were the garden tomatoes planted?", "Where were they planted?"]
    assert turns[1]["searched"] == second["searched"]
    # a client that keeps the conversation itself sends the turns
    third = client.post("/v1/ask", json={"question": "Where were they planted?", "turns": [
        {"question": "When were the garden tomatoes planted?", "answer": first["answer"]}]}).json()
    assert third["searched"] == second["searched"]
    assert client.post("/v1/ask", json={"question": "x", "conversation": "no spaces"}).status_code == 422


def test_a_whole_document_request_through_rest(env):
    client, _, docs, _ = env
    settle(client)
    answer = client.post("/v1/ask", json={"question": "Summarise this", "files": [str(docs / "garden.txt")]}).json()
    assert answer["grounded"] and answer["citations"][0]["path"] == str(docs / "garden.txt")
    assert "Read whole: garden.txt" in answer["answer"]
    missing = client.post("/v1/ask", json={"question": "Summarise", "files": [str(docs / "nope.txt")]})
    assert missing.status_code == 404 and "not an indexed file" in missing.json()["error"]["message"]
    streamed = client.post("/v1/ask", json={"question": "Summarise", "files": [str(docs / "nope.txt")],
                                            "stream": True})  # a 404 before the stream starts, not an event
    assert streamed.status_code == 404 and "nope.txt" in streamed.json()["error"]["message"]


@pytest.mark.parametrize(("path", "body"), [("/v1/ask", {"question": " \n\t "}),
                                            ("/v1/search", {"query": "   "}),
                                            ("/v1/ask", {"question": "And then?", "turns": [{"question": " "}]})])
def test_a_question_of_white_space_alone_is_refused_as_empty(env, path, body):
    client, _, _, _ = env
    r = client.post(path, json=body)
    assert r.status_code == 422 and "empty" in r.json()["error"]["message"], r.text


def test_a_body_not_sent_as_json_is_told_how_to_send_it(env):
    """``curl -d`` sends a form's content type: the 422 says to send JSON."""
    client, _, _, _ = env
    r = client.post("/v1/search", content=b'{"query":"tomatoes"}',
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422 and "Content-Type: application/json" in r.json()["error"]["message"]
    assert client.post("/v1/search", json={"query": "tomatoes"}).status_code == 200
