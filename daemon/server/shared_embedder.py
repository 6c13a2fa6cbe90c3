"""One embedding model for the index writer and the request threads, with searches first.

The model runs one call at a time: its tokenizers are not safe to share between threads, and on a
small machine two forward passes at once only slow each other down. What keeps a search fast while
a folder is being indexed is the order and the size of the calls:

- queries that wait for the model are embedded together, in one call (a "round"): a forward pass
  over twenty short questions costs far less than twenty passes, so concurrent searches do not
  queue one by one;
- while anyone is searching (a query waits, or a round ended under ``SEARCHING_S`` ago), the
  writer's passages are embedded in slices of about ``writer_turn_s`` of model time (sized from the
  time the last such slices took), and before each slice the waiting queries take the model, so a
  search waits for one short slice at most; with nobody searching, slices of ``MAX_SLICE`` passages
  index at full speed (a search that comes then waits for one such slice, as it always did);
- the writer is not starved by a steady stream of searches either: while both wait, query rounds
  and writer turns alternate (a turn is one slice, or ``writer_turn_s`` of token counting: the
  chunker's calls come microseconds apart, so queries let a turn in progress finish);
- where the model says its token counter may run beside an embedding (``count_tokens_concurrent``),
  token counting does not wait for the model at all;
- while anyone is searching, the model computes on half the cores (``searching_threads``): the other
  half serve the requests' own work (HTTP, the vector store, SQLite) and the parser workers. On two
  cores, torch's two intra-op threads fought those for the second core and served a third fewer
  searches than one thread did. With nobody searching, the writer's slices use every core.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import numpy as np

from ragd.index.embed import Embedder, Kind, Vectors

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_SLICE = 32  # passages per writer call at most (and with nobody searching)
FIRST_SLICE = 4  # while searching, before the model's speed is known
MAX_QUERY_TEXTS = 64  # texts in one query round (more wait for the next round)
WRITER_TURN_S = 0.05  # the writer's model time between two query rounds while searches wait
WRITER_GRACE_S = 0.005  # a writer turn in progress holds queries back while its calls come this close together
SEARCHING_S = 1.0  # searches count as going on this long after the last round


def cores() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def searching_threads() -> int:
    """The model's threads while searches go on: half the cores this process may use, at least one."""
    return max(1, cores() // 2)


@dataclass(eq=False)
class _Query:
    """Texts of one search call, waiting for (or embedded in) a query round."""

    texts: list[str]
    taken: bool = False
    done: bool = False
    vectors: Vectors | None = None
    error: BaseException | None = field(default=None, repr=False)


class SharedEmbedder(Embedder):
    """An ``Embedder`` over ``inner`` that many threads may call; kind ``"query"`` goes first.

    ``slice_size`` fixes the passages per writer call (None: as described above); ``threads`` fixes the
    threads passed to the model's ``set_threads``, where it has one (None: as described above).
    """

    def __init__(self, inner: Embedder, slice_size: int | None = None, max_query_texts: int = MAX_QUERY_TEXTS,
                 writer_turn_s: float = WRITER_TURN_S, writer_grace_s: float = WRITER_GRACE_S,
                 threads: int | None = None) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        # part of the index signature (Indexer.signature): the daemon must sign its index as `ragd index` does
        self.token_count_revision = inner.token_count_revision
        self.slice_size = None if slice_size is None else max(1, slice_size)
        self.max_query_texts = max(1, max_query_texts)
        self.writer_turn_s = writer_turn_s
        self.writer_grace_s = writer_grace_s
        self.threads_searching = threads or searching_threads()
        self.threads_alone = threads or cores()
        self._count_concurrent = inner.count_tokens_concurrent
        # safe to call beside embed_batch from another thread: counts wait for the model where the inner needs it
        self.count_tokens_concurrent = True
        self._cond = threading.Condition()
        self._busy = False  # the model is running a call
        self._queries: deque[_Query] = deque()  # waiting, not yet taken by a round
        self._writer_waiting = 0  # writer-side calls waiting for the model
        self._writer_used = 0.0  # the writer's model time since the last query round
        self._writer_left = 0.0  # when the writer last gave the model back (perf_counter)
        self._round_ended = -SEARCHING_S  # when the last query round ended (perf_counter)
        self._per_passage_s: float | None = None  # model time per passage while searching (moving average)
        self.query_rounds = 0  # counters, for tests and logs
        self.queries_embedded = 0

    # -- the Embedder interface ----------------------------------------------------------------
    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        items = list(texts)
        if kind == "query":
            return self._query(items)
        parts: list[Vectors] = []
        start = 0
        while True:
            part = items[start : start + self.next_slice()]
            parts.append(self._writer_call(partial(self.inner.embed_batch, part, kind), len(part)))
            start += len(part)
            if start >= len(items):
                return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def count_tokens(self, text: str) -> int:
        if self._count_concurrent:
            return self.inner.count_tokens(text)
        return self._writer_call(lambda: self.inner.count_tokens(text))

    def searching(self) -> bool:
        """Whether searches go on: a query waits, or a round ended a moment ago."""
        return bool(self._queries) or time.perf_counter() - self._round_ended < SEARCHING_S

    def next_slice(self) -> int:
        """Passages in the writer's next call."""
        if self.slice_size is not None:
            return self.slice_size
        if not self.searching():
            return MAX_SLICE
        if self._per_passage_s is None:
            return FIRST_SLICE
        return max(1, min(MAX_SLICE, int(self.writer_turn_s / max(self._per_passage_s, 1e-6))))

    # -- scheduling ------------------------------------------------------------------------------
    def _queries_wait_for(self) -> float | None:
        """Called with the condition held: 0 when the queries may take the model now, else how long to wait
        at most before looking again (None: until notified)."""
        if self._busy:
            return None
        if self._writer_waiting:
            return 0.0 if self._writer_used >= self.writer_turn_s else None
        if 0.0 < self._writer_used < self.writer_turn_s:  # a writer turn in progress, between two calls
            left = self.writer_grace_s - (time.perf_counter() - self._writer_left)
            if left > 0:
                return left
        return 0.0

    def _threads(self, n: int) -> None:
        """Set the model's threads, from the thread about to call it (torch keeps the setting per thread)."""
        self.inner.set_threads(n)

    def _writer_call(self, call: Callable[[], T], passages: int = 0) -> T:
        """Run ``call`` on the model for the writer (or any passage work): after the waiting queries
        once the writer has had its turn."""
        with self._cond:
            self._writer_waiting += 1
            try:
                while self._busy or (self._queries and self._writer_used >= self.writer_turn_s):
                    self._cond.wait()
            finally:
                self._writer_waiting -= 1
            self._busy = True
            searching = self.searching()
        started = time.perf_counter()
        try:
            self._threads(self.threads_searching if searching else self.threads_alone)
            return call()
        finally:
            with self._cond:
                self._busy = False
                self._writer_left = time.perf_counter()
                took = self._writer_left - started
                self._writer_used += took
                if passages and searching:
                    per = took / passages
                    old = self._per_passage_s
                    self._per_passage_s = per if old is None else 0.7 * old + 0.3 * per
                self._cond.notify_all()

    def _query(self, texts: list[str]) -> Vectors:
        """Embed ``texts`` in the next query round; the thread whose query heads the queue runs the round."""
        mine = _Query(texts)
        with self._cond:
            self._queries.append(mine)
            while not mine.taken:
                wait = self._queries_wait_for() if self._queries[0] is mine else None
                if wait == 0.0:
                    round_ = self._take_round()
                    self._busy = True
                    break
                self._cond.wait(wait)
            else:  # another thread runs the round that holds this query
                while not mine.done:
                    self._cond.wait()
                return self._result(mine)
        self._run_round(round_)
        return self._result(mine)

    def _take_round(self) -> list[_Query]:
        """Called with the condition held: the queries of the next round, oldest first."""
        round_ = [self._queries.popleft()]
        count = len(round_[0].texts)
        while self._queries and count + len(self._queries[0].texts) <= self.max_query_texts:
            count += len(self._queries[0].texts)
            round_.append(self._queries.popleft())
        for q in round_:
            q.taken = True
        return round_

    def _run_round(self, round_: list[_Query]) -> None:
        vectors: Vectors | None = None
        error: BaseException | None = None
        try:
            self._threads(self.threads_searching)
            vectors = self.inner.embed_batch([t for q in round_ for t in q.texts], "query")
        except BaseException as exc:  # every query of the round gets the error, not only this thread's
            error = exc
        with self._cond:
            offset = 0
            for q in round_:
                if vectors is not None:
                    q.vectors = vectors[offset : offset + len(q.texts)]
                    offset += len(q.texts)
                q.error = error
                q.done = True
            self._busy = False
            self._writer_used = 0.0
            self._round_ended = time.perf_counter()
            self.query_rounds += 1
            self.queries_embedded += len(round_)
            self._cond.notify_all()

    @staticmethod
    def _result(q: _Query) -> Vectors:
        if q.error is not None:
            raise q.error
        assert q.vectors is not None
        return q.vectors

