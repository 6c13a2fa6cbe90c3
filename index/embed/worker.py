"""The embedding model in a worker process that starts on demand and exits when idle.

The daemon runs for days and embeds in bursts: a model held in its own process stays resident (and
torch's or ONNX Runtime's libraries with it) long after the burst. ``EmbedWorker`` is an ``Embedder`` whose
``embed_batch`` runs in a child interpreter (``python -I -c``, as the parser workers), started at the first
call and ended ``idle_s`` after the last one, so the idle daemon holds no model. Token counting stays in
the calling process: the chunker calls it once per sentence, and the compiled tokenizers it needs are small.

A worker that dies mid-batch (killed, out of memory) is started again and the batch sent again, once;
vectors are returned whole or not at all, so the caller never writes half a batch. Calls are serialised
(one batch at a time, as one model runs one call at a time anyway); ``daemon/server/shared_embedder.py`` orders
them, searches first.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from ragd.index.child import Child, send_quietly, watch_parent
from ragd.index.embed import Embedder, Kind, Vectors, create

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 300.0  # a first start may export the int8 model (about 10 s on 2 cores)
_BOOT = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
         "from ragd.index.embed.worker import _worker_main; "
         "_worker_main(int(sys.argv[2]), json.loads(sys.argv[3]))")


class EmbedWorkerError(RuntimeError):
    """The embedding worker could not start, or died twice on one batch."""


class _Process(Child):
    """One worker process and the parent's end of its socket."""

    label = "embedding worker"

    def __init__(self, name: str, model_cache: Path | None, threads: int | None) -> None:
        parent_sock, child_sock = socket.socketpair()
        config = {"name": name, "model_cache": str(model_cache) if model_cache else None, "threads": threads,
                  "parent": os.getpid()}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, json.dumps(sys.path), str(child_sock.fileno()), json.dumps(config)],
                pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        if not self.conn.poll(STARTUP_TIMEOUT_S):
            self.kill()
            raise EmbedWorkerError(f"the embedding worker did not start within {STARTUP_TIMEOUT_S:g} s")
        try:
            status, detail = self.conn.recv()
        except (EOFError, OSError):
            status, detail = "fatal", f"it exited (code {self.proc.wait(5)})"
        if status != "ready":
            self.kill()
            raise EmbedWorkerError(f"the embedding worker failed to start: {detail}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def call(self, request: tuple[Any, ...]) -> Any:
        """Send one request and wait for its reply; OSError/EOFError when the process is gone."""
        self.conn.send(request)
        status, payload = self.conn.recv()
        if status == "error":
            raise EmbedWorkerError(payload)
        return payload


class EmbedWorker(Embedder):
    """An ``Embedder`` running the registered embedder ``name`` in a worker process (see the module doc).

    ``idle_s``: the worker exits this long after its last call (0: stays until ``close``).
    """

    def __init__(self, name: str, model_cache: Path | None = None, idle_s: float = 60.0,
                 local: Embedder | None = None) -> None:
        self.name = name
        self.model_cache = model_cache
        self.idle_s = idle_s
        self.local = local or create(name, model_cache)  # counts tokens; its model is never loaded here
        self.model_id = self.local.model_id
        self.dim = self.local.dim
        self.max_tokens = self.local.max_tokens
        self.token_count_revision = self.local.token_count_revision
        self.count_tokens_concurrent = self.local.count_tokens_concurrent
        self.threads: int | None = None
        self._proc: _Process | None = None
        self._lock = threading.Lock()  # one call at a time, and start/stop between calls
        self._last_call = time.monotonic()
        self._closed = False
        self._counted = False  # the local tokenizers are loaded
        self.starts = 0  # processes started, for tests and the status
        self._reaper = threading.Thread(target=self._reap, name="embed-worker-idle", daemon=True)
        self._reaper.start()

    # -- the Embedder interface ----------------------------------------------------------------
    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        items = list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        shape, data = self._call(("embed", kind, items, self.threads))
        return np.frombuffer(data, dtype=np.float32).reshape(shape).copy()

    def count_tokens(self, text: str) -> int:
        self._counted = True
        return self.local.count_tokens(text)

    def set_threads(self, threads: int) -> None:
        """The model's threads from the next call on (sent with each call)."""
        self.threads = max(1, threads)

    # -- the life cycle ----------------------------------------------------------------------------
    def warm(self) -> None:
        """Start the worker now (and load its model), so the next call does not wait for it."""
        self._call(("warm",))

    def release_counters(self) -> bool:
        """Let the tokenizers that count tokens here go (about 30 MB) while the worker is stopped for being idle;
        the next count loads them again. Returns whether they were let go."""
        if self.pid is not None or self.idle_s <= 0 or time.monotonic() - self._last_call < self.idle_s:
            return False
        if not self._counted:
            return False
        self.local = create(self.name, self.model_cache)  # a call counting meanwhile keeps the old one alive
        self._counted = False
        return True

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.alive() else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop()

    def _call(self, request: tuple[Any, ...]) -> Any:
        with self._lock:
            if self._closed:
                raise EmbedWorkerError("the embedding worker is closed")
            try:
                for attempt in (1, 2):
                    proc = self._running()
                    try:
                        return proc.call(request)
                    except (EOFError, OSError) as exc:  # died mid-call: start afresh and send it again
                        code = proc.proc.poll()
                        proc.kill()
                        self._proc = None
                        if attempt == 2:
                            raise EmbedWorkerError(f"the embedding worker died twice on one batch ({exc})") from exc
                        log.warning("embedding worker %d died (%s); starting another", proc.pid, _describe(code))
            finally:
                self._last_call = time.monotonic()
        raise AssertionError("unreachable")

    def _running(self) -> _Process:
        if self._proc is None or not self._proc.alive():
            started = time.perf_counter()
            self._proc = _Process(self.name, self.model_cache, self.threads)
            self.starts += 1
            log.info("embedding worker %d started in %.2f s", self._proc.pid, time.perf_counter() - started)
        return self._proc

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.close(2.0)
            log.info("embedding worker %d stopped", self._proc.pid)
            self._proc = None

    def _reap(self) -> None:
        """Stop the worker once it has been idle ``idle_s``."""
        while not self._closed:
            time.sleep(max(0.05, min(1.0, self.idle_s / 4)) if self.idle_s > 0 else 1.0)
            if self.idle_s <= 0 or self._proc is None:
                continue
            if time.monotonic() - self._last_call < self.idle_s:
                continue
            if self._lock.acquire(blocking=False):  # busy: not idle
                try:
                    if self._proc is not None and time.monotonic() - self._last_call >= self.idle_s:
                        self._stop()
                finally:
                    self._lock.release()


def _describe(code: int | None) -> str:
    if code is None:
        return "no reply"
    if code < 0 and -code in signal.valid_signals():
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


# --- the worker side -------------------------------------------------------------------------


def _worker_main(fd: int, config: dict[str, Any]) -> None:
    conn = Connection(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    logging.basicConfig(level=logging.WARNING, format="ragd embed worker: %(name)s: %(message)s")
    watch_parent(int(config["parent"]))
    try:
        cache = config["model_cache"]
        embedder = create(str(config["name"]), Path(cache) if cache else None)
        if config["threads"]:
            embedder.set_threads(int(config["threads"]))
        embedder.embed_batch(["warm up"], "query")  # load (and export) now, not in the first timed call
        reply: tuple[str, Any] = ("ready", os.getpid())
    except BaseException as exc:
        send_quietly(conn, ("fatal", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            if not send_quietly(conn, reply):
                return
        except Exception as exc:  # the reply could not be pickled (out of memory): the parent hears why
            if not send_quietly(conn, ("error", f"the vectors could not be returned: {type(exc).__name__}: {exc}")):
                return
        try:
            request = conn.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            return
        if request is None:
            return
        try:
            if request[0] == "embed":
                if request[3]:
                    embedder.set_threads(int(request[3]))
                vectors = np.ascontiguousarray(embedder.embed_batch(request[2], request[1]), dtype=np.float32)
                reply = ("ok", (vectors.shape, vectors.tobytes()))
            else:
                reply = ("ok", None)
        except Exception as exc:
            log.exception("embedding failed")
            reply = ("error", f"{type(exc).__name__}: {exc}")
