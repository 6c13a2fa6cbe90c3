"""The daemon's shared embedder: searches do not queue behind the writer's batches (issue 15, item 6).

A slow fake model (it sleeps per text, so the timings hold on a busy machine) records every call: the
tests check the order of the calls, that no two calls ever overlap, and that every vector is the one
the model gives for that text alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from ragd.daemon.server.shared_embedder import SharedEmbedder
from ragd.index.embed import Kind, Vectors
from tests.fakes import HashingEmbedder

PER_TEXT_S = 0.01


@dataclass
class Call:
    kind: str
    texts: int
    start: float
    end: float = 0.0


class SlowEmbedder(HashingEmbedder):
    """Sleeps ``per_text_s`` per text; logs its calls; fails the test if two calls ever overlap."""

    def __init__(self, per_text_s: float = PER_TEXT_S, count_s: float = 0.0) -> None:
        super().__init__()
        self.per_text_s = per_text_s
        self.count_s = count_s
        self.query_started = threading.Event()
        self.log: list[Call] = []
        self.active = 0
        self.overlapped = False
        self.passage_started = threading.Event()
        self.fail_next_query = False

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        self.active += 1
        self.overlapped |= self.active > 1
        call = Call(kind, len(texts), time.perf_counter())
        self.log.append(call)
        (self.passage_started if kind == "passage" else self.query_started).set()
        try:
            time.sleep(self.per_text_s * len(texts))
            if kind == "query" and self.fail_next_query:
                self.fail_next_query = False
                raise RuntimeError("the model failed")
            return super().embed_batch(texts, kind)
        finally:
            call.end = time.perf_counter()
            self.active -= 1

    def count_tokens(self, text: str) -> int:
        self.active += 1
        self.overlapped |= self.active > 1
        try:
            time.sleep(self.count_s)
            return super().count_tokens(text)
        finally:
            self.active -= 1


class ConcurrentCounter(SlowEmbedder):
    """A model whose token counter may run beside an embedding (as USE's pure-Python tokenizer may)."""

    count_tokens_concurrent = True

    def count_tokens(self, text: str) -> int:
        return HashingEmbedder.count_tokens(self, text)


def passages(n: int) -> list[str]:
    return [f"passage {i} about tomatoes planted in row {i % 7}" for i in range(n)]


def in_thread(fn: Callable[..., Any], *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``fn`` in a thread; returns (thread, box) where box holds its result or error."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn(*args)
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_a_query_waits_for_one_slice_not_for_the_writers_whole_batch() -> None:
    slow = SlowEmbedder(per_text_s=0.02)
    shared = SharedEmbedder(slow, slice_size=8)
    batch = passages(64)  # 8 slices of 160 ms: 1.3 s in all (the old embedder's slices were 32 texts: 640 ms)
    writer, wrote = in_thread(shared.embed_batch, batch, "passage")
    assert slow.passage_started.wait(10)
    submitted = time.perf_counter()
    vector = shared.embed_batch(["when were the tomatoes planted?"], "query")
    waited = time.perf_counter() - submitted
    writer.join(30)

    query = next(c for c in slow.log if c.kind == "query")
    # the query ran right after the slice in progress when it came: no slice started in between
    jumped = [c for c in slow.log if c.kind == "passage" and submitted <= c.start < query.start]
    assert not jumped, [(c.kind, c.texts, round(c.start - submitted, 3)) for c in slow.log]
    # ... and that slice was small (the old embedder's slices held 32 texts: a query waited 0.64 s)
    assert waited < 0.4, f"a query waited {waited:.2f} s; one slice takes {8 * 0.02:.2f} s"
    assert not slow.overlapped
    assert np.array_equal(vector, HashingEmbedder().embed_batch(["when were the tomatoes planted?"], "query"))
    assert np.array_equal(wrote["result"], HashingEmbedder().embed_batch(batch, "passage"))


def test_concurrent_queries_share_rounds_and_get_their_own_vectors() -> None:
    slow = SlowEmbedder()
    shared = SharedEmbedder(slow, slice_size=8)
    writer, wrote = in_thread(shared.embed_batch, passages(64), "passage")
    assert slow.passage_started.wait(10)
    questions = [f"question {i}: which row holds the {i}th tomato?" for i in range(20)]
    searches = [in_thread(shared.embed_batch, [q], "query") for q in questions]
    for t, _ in searches:
        t.join(30)
    writer.join(30)

    plain = HashingEmbedder()
    for q, (_, box) in zip(questions, searches, strict=True):
        assert np.array_equal(box["result"], plain.embed_batch([q], "query")), q
    assert np.array_equal(wrote["result"], plain.embed_batch(passages(64), "passage"))
    query_calls = [c for c in slow.log if c.kind == "query"]
    assert sum(c.texts for c in query_calls) == 20
    assert len(query_calls) < 20 / 2, "waiting queries are embedded together, not one call each"
    assert shared.queries_embedded == 20 and shared.query_rounds == len(query_calls)
    assert not slow.overlapped


def test_the_writer_is_not_starved_by_a_steady_stream_of_queries() -> None:
    slow = SlowEmbedder(per_text_s=0.002)
    shared = SharedEmbedder(slow, slice_size=8)
    stop = threading.Event()

    def search_until_stopped(n: int) -> int:
        count = 0
        while not stop.is_set():
            shared.embed_batch([f"question {n}.{count}"], "query")
            count += 1
        return count

    searchers = [in_thread(search_until_stopped, n) for n in range(8)]
    time.sleep(0.05)
    started = time.perf_counter()
    result = shared.embed_batch(passages(160), "passage")  # 20 slices of 16 ms: 0.32 s alone
    took = time.perf_counter() - started
    stop.set()
    for t, _ in searchers:
        t.join(30)

    assert result.shape == (160, slow.dim)
    assert took < 3.0, f"the writer's batch took {took:.2f} s among the searches (0.32 s alone)"
    assert sum(box["result"] for _, box in searchers) > 8
    assert not slow.overlapped


def test_token_counting_is_writer_work_and_never_overlaps_a_query() -> None:
    slow = SlowEmbedder()
    shared = SharedEmbedder(slow, slice_size=8)
    searches = [in_thread(shared.embed_batch, [f"q{i}"], "query") for i in range(5)]
    counts = [shared.count_tokens(p) for p in passages(50)]
    for t, _ in searches:
        t.join(30)
    assert counts == [HashingEmbedder().count_tokens(p) for p in passages(50)]
    assert not slow.overlapped


def test_the_writer_keeps_its_turn_between_token_counts() -> None:
    """The chunker counts tokens call after call: a query round between every two calls would stall it."""
    slow = SlowEmbedder(per_text_s=0.01, count_s=0.001)
    shared = SharedEmbedder(slow, slice_size=8)
    stop = threading.Event()

    def search_until_stopped(n: int) -> None:
        while not stop.is_set():
            shared.embed_batch([f"question {n}"], "query")

    searchers = [in_thread(search_until_stopped, n) for n in range(8)]
    assert slow.query_started.wait(10)
    started = time.perf_counter()
    for p in passages(200):  # 0.2 s of counting alone; one query round per call would take over 2 s
        shared.count_tokens(p)
        time.sleep(0.0005)  # the chunker's own work between two counts (the searchers may run meanwhile)
    took = time.perf_counter() - started
    stop.set()
    for t, _ in searchers:
        t.join(30)
    assert took < 1.5, f"200 token counts took {took:.2f} s among the searches (0.2 s alone)"
    assert shared.query_rounds > 1 and not slow.overlapped


def test_a_concurrent_token_counter_does_not_wait_for_the_model() -> None:
    model = ConcurrentCounter()
    shared = SharedEmbedder(model)
    long_round, _ = in_thread(shared.embed_batch, [f"q{i}" for i in range(30)], "query")  # 0.3 s on the model
    assert model.query_started.wait(10)
    started = time.perf_counter()
    assert shared.count_tokens("three short words") == 3
    assert time.perf_counter() - started < 0.1
    long_round.join(30)


def test_a_failed_round_fails_each_of_its_queries_and_frees_the_model() -> None:
    slow = SlowEmbedder()
    shared = SharedEmbedder(slow, slice_size=8)
    writer, _ = in_thread(shared.embed_batch, passages(32), "passage")
    assert slow.passage_started.wait(10)
    slow.fail_next_query = True
    searches = [in_thread(shared.embed_batch, [f"q{i}"], "query") for i in range(4)]
    for t, _ in searches:
        t.join(30)
    writer.join(30)
    errors = [box.get("error") for _, box in searches]
    assert any(isinstance(e, RuntimeError) for e in errors)
    # the model is free again: a later query is embedded
    assert shared.embed_batch(["again"], "query").shape == (1, slow.dim)


@pytest.mark.parametrize("n", [0, 1, 8, 9, 17])
def test_passage_batches_of_any_size_come_back_whole_and_in_order(n: int) -> None:
    shared = SharedEmbedder(HashingEmbedder(), slice_size=8)
    assert np.array_equal(shared.embed_batch(passages(n), "passage"), HashingEmbedder().embed_batch(passages(n)))


def test_while_searching_writer_slices_are_sized_to_the_writers_turn() -> None:
    slow = SlowEmbedder(per_text_s=0.01)
    shared = SharedEmbedder(slow, writer_turn_s=0.05)
    shared.embed_batch(["a search a moment ago"], "query")
    shared.embed_batch(passages(40), "passage")
    sizes = [c.texts for c in slow.log if c.kind == "passage"]
    assert sum(sizes) == 40
    assert sizes[0] == 4 and all(3 <= n <= 6 for n in sizes[1:-1]), sizes  # about 0.05 s / 0.01 s per text


class ThreadedEmbedder(HashingEmbedder):
    """Records the threads it was set to for each call."""

    def __init__(self) -> None:
        super().__init__()
        self.threads = 0
        self.log: list[tuple[str, int, int]] = []  # (kind, texts, threads)

    def set_threads(self, threads: int) -> None:
        self.threads = threads

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        self.log.append((kind, len(texts), self.threads))
        return super().embed_batch(texts, kind)


def test_searches_get_half_the_cores_and_the_writer_alone_all_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import ragd.daemon.server.shared_embedder as module

    monkeypatch.setattr(module, "cores", lambda: 4)
    model = ThreadedEmbedder()
    shared = SharedEmbedder(model)
    shared.embed_batch(passages(40), "passage")  # nobody searching: full slices on every core
    shared.embed_batch(["a question"], "query")
    shared.embed_batch(passages(8), "passage")  # a search a moment ago: short slices on half the cores
    assert model.log == [("passage", 32, 4), ("passage", 8, 4), ("query", 1, 2),
                           ("passage", 4, 2), ("passage", 4, 2)]


def test_the_real_models_take_a_thread_setting_before_they_load() -> None:
    from ragd.index.embed.dual import UseMiniLM

    model = UseMiniLM()  # nothing is loaded: the setting is kept for the load
    model.set_threads(3)
    assert model.use.threads == model.minilm.threads == 3


@pytest.mark.slow
def test_the_real_model_gives_shared_queries_the_vectors_it_gives_them_alone() -> None:
    """A round embeds several questions in one batch (padded together): the vectors match each question's own
    to float precision, so the rankings do not depend on who else was searching."""
    from ragd.index import embed

    shared = SharedEmbedder(embed.create("use+minilm"))
    questions = ["When were the tomatoes planted?", "Who raised interest rates in 1973 and why?",
                 "梅雨はいつ始まる？", "cat", "What is the boundary layer thickness at the trailing edge of a plate?"]
    shared.embed_batch(passages(40), "passage")  # the writer's threads and slices first
    searches = [in_thread(shared.embed_batch, [q], "query") for q in questions * 2]
    for t, _ in searches:
        t.join(60)
    for q, (_, box) in zip(questions * 2, searches, strict=True):  # the model alone, once the threads are done
        assert np.allclose(box["result"], shared.inner.embed_batch([q], "query"), atol=1e-5), q
