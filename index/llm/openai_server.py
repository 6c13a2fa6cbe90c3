"""The ``openai`` LLM backend: any server that speaks OpenAI's chat-completions API (llama.cpp's
``llama-server``, ``python -m llama_cpp.server``, vLLM, Ollama, ...), over plain httpx.

Requests go to ``base_url`` only: no redirects are followed and proxy variables are ignored.
Every response is read in bounded pieces; one over ``MAX_RESPONSE_BYTES`` is refused.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from ragd.index.llm.base import LLMError, Message

MAX_RESPONSE_BYTES = 16 << 20
MAX_ERROR_BYTES = 64 << 10
PROBE_TIMEOUT_S = 10.0
# tokenizer endpoint under the server root -> its body key: llama_cpp.server (python), then llama-server
TOKENIZERS = {"extras/tokenize": "input", "tokenize": "content"}
ESTIMATE = "estimate"


class _TooLarge(Exception):
    pass


class OpenAIServerLLM:
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, context_tokens: int = 8192,
                 timeout_s: float = 300.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise LLMError(f"LLM base_url must be an http:// or https:// URL, not {base_url!r}")
        self.root = self.base_url.removesuffix("/v1")
        self.model = model
        self.timeout_s = timeout_s
        self._context_tokens = context_tokens
        self._server_ctx: int | None = None
        self._probed = False
        # The tokenizer endpoint that works (a path under root), ESTIMATE if none does, None until known.
        self.tokenizer: str | None = None
        self._lock = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(transport=transport, headers=headers, timeout=timeout_s,
                                    follow_redirects=False, trust_env=False)

    @property
    def model_id(self) -> str:
        return f"openai:{self.model}"

    @property
    def context_length(self) -> int:
        with self._lock:
            if not self._probed:
                self._probed = True
                self._server_ctx = self._probe_context()
        if self._server_ctx is not None and 0 < self._server_ctx < self._context_tokens:
            return self._server_ctx
        return self._context_tokens

    def count_tokens(self, text: str) -> int:
        count: int | None = None
        with self._lock:
            picking = self.tokenizer is None
            if picking:
                count = self._pick_tokenizer(text)
        if not picking and self.tokenizer != ESTIMATE:
            count = self._tokenize(str(self.tokenizer), text)
        return estimate_tokens(text) if count is None else count

    def stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        body = {"model": self.model, "messages": [m.to_json() for m in messages], "stream": True,
                "max_tokens": max_tokens, "temperature": temperature}
        url = f"{self.base_url}/chat/completions"
        try:
            with self._client.stream("POST", url, json=body) as response:
                if not response.is_success:  # redirects too: nothing goes anywhere but base_url
                    raise LLMError(f"the LLM server at {self.base_url} answered HTTP {response.status_code}: "
                                   f"{_error_message(response)}")
                if response.headers.get("content-type", "").startswith("application/json"):
                    yield from _whole_reply(_read_json(response))  # the server ignored stream=true
                    return
                yield from _parse_sse(_bounded(response.iter_bytes()))
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        except _TooLarge:
            raise LLMError(f"the LLM server at {self.base_url} sent more than {MAX_RESPONSE_BYTES >> 20} MiB; "
                           "refused") from None

    def close(self) -> None:
        self._client.close()

    def unload_if_idle(self, now: float | None = None) -> bool:
        return False  # the server holds the model

    # -- probes -------------------------------------------------------------------------------------

    def _probe_context(self) -> int | None:
        """llama.cpp's ``GET /props`` reports the context it serves; other servers report none."""
        try:
            with self._client.stream("GET", f"{self.root}/props", timeout=PROBE_TIMEOUT_S) as response:
                if response.status_code != 200:
                    return None
                props = _read_json(response)
        except (httpx.HTTPError, _TooLarge, LLMError):
            return None
        if not isinstance(props, dict):
            return None
        settings = props.get("default_generation_settings")
        for source in (settings if isinstance(settings, dict) else {}, props):
            n_ctx = source.get("n_ctx")
            if isinstance(n_ctx, int) and not isinstance(n_ctx, bool) and n_ctx > 0:
                return n_ctx
        return None

    def _pick_tokenizer(self, text: str) -> int | None:
        """Try each tokenizer endpoint; remember the first that works, or that none does."""
        unreachable = False
        for path in TOKENIZERS:
            try:
                count = self._tokenize(path, text, quiet=False)
            except httpx.HTTPError:
                unreachable = True
                continue
            if count is not None:
                self.tokenizer = path
                return count
        if not unreachable:  # the server answered and has no tokenizer; don't ask again
            self.tokenizer = ESTIMATE
        return None

    def _tokenize(self, path: str, text: str, *, quiet: bool = True) -> int | None:
        try:
            with self._client.stream("POST", f"{self.root}/{path}", json={TOKENIZERS[path]: text},
                                     timeout=min(self.timeout_s, PROBE_TIMEOUT_S * 6)) as response:
                if response.status_code != 200:
                    return None
                reply = _read_json(response)
        except (_TooLarge, LLMError):
            return None
        except httpx.HTTPError:
            if quiet:
                return None
            raise
        tokens = reply.get("tokens") if isinstance(reply, dict) else None
        return len(tokens) if isinstance(tokens, list) else None

    def _transport_error(self, exc: httpx.HTTPError) -> LLMError:
        reason = _one_line(str(exc)) or type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            return LLMError(f"cannot connect to the LLM server at {self.base_url}: {reason}")
        if isinstance(exc, httpx.TimeoutException):
            return LLMError(f"the LLM server at {self.base_url} did not answer within {self.timeout_s:g} s")
        return LLMError(f"lost the connection to the LLM server at {self.base_url}: {reason}")


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 3)


def _bounded(chunks: Iterator[bytes]) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise _TooLarge
        yield chunk


def _read_json(response: httpx.Response) -> Any:
    data = b"".join(_bounded(response.iter_bytes()))
    try:
        return json.loads(data)
    except ValueError:
        raise LLMError("the LLM server sent a malformed JSON reply") from None


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Lines of a byte stream split anywhere (even inside a UTF-8 character); LF or CR LF end a line."""
    parts: list[bytes] = []
    for chunk in chunks:
        *complete, rest = chunk.split(b"\n")
        for piece in complete:
            parts.append(piece)
            yield b"".join(parts).removesuffix(b"\r").decode("utf-8", errors="replace")
            parts = []
        if rest:
            parts.append(rest)
    if parts:
        yield b"".join(parts).removesuffix(b"\r").decode("utf-8", errors="replace")


def _parse_sse(chunks: Iterator[bytes]) -> Iterator[str]:
    """The content pieces of an OpenAI chat-completions event stream, up to ``data: [DONE]``."""
    data: list[str] = []
    finished = events = False
    for line in itertools.chain(_lines(chunks), [""]):  # the blank line ends a last event sent without one
        events = events or bool(line)
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
            continue
        if line or not data:
            continue  # comments (": ping"), event:/id:/retry: fields, blank lines between events
        payload, data = "\n".join(data), []
        if payload.strip() == "[DONE]":
            return
        piece, done = _event(payload)
        finished |= done
        if piece:
            yield piece
    if not events:  # llama_cpp.server does this when the prompt is longer than its context
        raise LLMError("the LLM server ended the stream without sending anything (its log may say why, "
                       "e.g. a prompt longer than its context)")
    if not finished:
        raise LLMError("malformed stream from the LLM server: it ended before the answer was complete")


def _event(payload: str) -> tuple[str, bool]:
    """(content piece, whether a finish_reason came) of one ``data:`` payload."""
    try:
        event = json.loads(payload)
    except ValueError:
        raise LLMError(f"malformed stream from the LLM server: not JSON: {_one_line(payload)[:120]!r}") from None
    if not isinstance(event, dict):
        raise LLMError("malformed stream from the LLM server: an event is not a JSON object")
    if "error" in event:
        raise LLMError(f"the LLM server failed while answering: {_message_of(event) or 'unknown error'}")
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise LLMError("malformed stream from the LLM server: an event has no choices")
    if not choices:
        return "", False  # e.g. a final usage-only event
    choice = choices[0]
    delta = choice.get("delta") if isinstance(choice, dict) else None
    if not isinstance(delta, dict):
        raise LLMError("malformed stream from the LLM server: a choice has no delta")
    content = delta.get("content")
    if content is not None and not isinstance(content, str):
        raise LLMError("malformed stream from the LLM server: delta.content is not text")
    return content or "", choice.get("finish_reason") is not None


def _whole_reply(reply: Any) -> Iterator[str]:
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMError("malformed reply from the LLM server: no choices[0].message.content") from None
    if not isinstance(content, str):
        raise LLMError("malformed reply from the LLM server: message.content is not text")
    if content:
        yield content


def _error_message(response: httpx.Response) -> str:
    """The server's own reason: JSON ``error.message`` (or similar), else the start of the body."""
    body = b""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= MAX_ERROR_BYTES:
                break
    except httpx.HTTPError:
        pass
    text = body[:MAX_ERROR_BYTES].decode("utf-8", errors="replace")
    try:
        message = _message_of(json.loads(text))
    except ValueError:
        message = None
    return _one_line(message or text)[:300] or response.reason_phrase or "no reason given"


def _message_of(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    for value in (error, body.get("message"), body.get("detail")):
        if isinstance(value, str):
            return value
    if body.get("detail") is not None:  # FastAPI validation errors: a list of objects
        return json.dumps(body["detail"])
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())
