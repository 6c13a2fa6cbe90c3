"""A blocking ``ask`` (it runs the local LLM) turned into an async stream of events.

``Backend.ask`` calls ``on_token`` from its own thread; the event loop must not block on it. Here it
runs in a worker thread and its tokens cross to the loop through an ``asyncio.Queue``
(``loop.call_soon_threadsafe``). The stream ends with one ``("answer", Answer)`` or ``("error", message)``.

If the consumer goes away (the client disconnected, the generator is closed), the next ``on_token``
raises inside the worker, which stops the model early instead of generating for nobody; whatever
``ask`` does after that is discarded.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Literal, TypeAlias

from ragd.daemon.server.api import OnToken
from ragd.index.answer.models import Answer
from ragd.index.errors import RagdError

log = logging.getLogger(__name__)

TokenEvent: TypeAlias = tuple[Literal["token"], str]
AnswerEvent: TypeAlias = tuple[Literal["answer"], Answer]
ErrorEvent: TypeAlias = tuple[Literal["error"], str]
StreamEvent: TypeAlias = TokenEvent | AnswerEvent | ErrorEvent

INTERNAL_ERROR = "internal error while answering (see the daemon's log)"


class ConsumerGone(Exception):
    """Raised from ``on_token`` once nobody reads the stream any more: it unwinds the model's loop."""


async def stream_answer(ask: Callable[[OnToken], Answer]) -> AsyncGenerator[StreamEvent, None]:
    """Run ``ask(on_token)`` in a worker thread and yield its events, in order.

    Yields ``("token", text)`` for each piece of the model's text, then exactly one final
    ``("answer", Answer)``, or ``("error", message)`` if ``ask`` raised (a ``RagdError``'s message as
    is; anything else is logged with its traceback and reported as an internal error). Close it with
    ``contextlib.aclosing`` when a consumer may stop early, so that the model is told at once.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[StreamEvent] = asyncio.Queue()  # unbounded: tokens are small and few
    gone = threading.Event()

    def put(event: StreamEvent) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: the daemon is shutting down
            gone.set()

    def on_token(text: str) -> None:
        if gone.is_set():
            raise ConsumerGone
        put(("token", text))

    def work() -> None:
        try:
            answer = ask(on_token)
        except Exception as exc:
            if gone.is_set():  # whatever ask made of ConsumerGone: nobody is listening
                log.debug("answer abandoned: the client went away (%s)", type(exc).__name__)
            elif isinstance(exc, RagdError):
                put(("error", str(exc)))
            else:
                log.exception("ask failed")
                put(("error", INTERNAL_ERROR))
        else:
            put(("answer", answer))

    # A plain daemon thread, not anyio's pool: it must be able to outlive the request.
    threading.Thread(target=work, name="ragd-ask", daemon=True).start()
    try:
        while True:
            event = await queue.get()
            yield event
            if event[0] != "token":
                return
    finally:
        gone.set()
