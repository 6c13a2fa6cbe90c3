"""Parsing in worker processes that bound time and memory, so a hostile file costs one error.

Each worker is a fresh interpreter (``python -I -c ...``, not fork): safe when the parent
has loaded torch or runs threads, and it never re-imports the parent's ``__main__``. It
sets ``RLIMIT_AS`` (memory) and ``RLIMIT_CPU`` (a backstop for the wall-clock timeout) on
itself, parses one job at a time (a file's path, which it reads itself, or an item's bytes that a
connector read) and sends the documents back pickled over a socket.
The parent enforces the timeout; a worker that times out, crashes or runs out of memory
is killed and replaced, and the file gets a short, recorded reason. Workers exit when
the parent closes the pool, closes the socket or dies.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import TracebackType
from typing import Any

from ragd.index.child import Child, send_quietly, watch_parent
from ragd.index.errors import ParseError, UnsupportedFormat
from ragd.index.models import Document
from ragd.index.parse import MAX_FILE_BYTES, parse_bytes, parse_file, parser_for

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 60.0
MAX_REPLY_BYTES = 1 << 30
_BOOT = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
         "from ragd.index.isolate import _worker_main; "
         "_worker_main(int(sys.argv[2]), json.loads(sys.argv[3]))")
_QUIET_LOGGERS = ("pypdf", "pdfminer", "fontTools", "charset_normalizer", "PIL", "RapidOCR")


@dataclass(frozen=True, eq=False)
class ParseJob:
    """An item's bytes to parse as if they were a file named ``name`` (the suffix chooses the parser)."""

    name: str
    data: bytes

    @property
    def path(self) -> Path:
        return Path(self.name)


Job = Path | ParseJob  # a local file (the worker reads it) or bytes in hand


@dataclass
class ParseResult:
    """What became of one file: documents, or an error (``unsupported`` if no parser takes it)."""

    documents: list[Document] | None = None
    error: str | None = None
    unsupported: bool = False


@dataclass(frozen=True)
class Lease:
    """A worker's word that the file it parses needs OCR: it may take ``seconds`` from now (``ocr_timeout_s``)."""

    seconds: float


class _Unpickler(pickle.Unpickler):
    """Only documents come back from a worker; anything else in a reply is refused."""

    _ALLOWED = frozenset({("ragd.index.models", "Document"), ("ragd.index.models", "Part")})

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object in a parse result: {module}.{name}")


class _Worker(Child):
    """One worker process and the parent's end of its socket."""

    label = "parse worker"

    def __init__(self, memory_mb: int, cpu_s: float, modules: Sequence[str], ocr_cache: str | None = None,
                 ocr_engine: str = "auto", ocr_timeout_s: float | None = None) -> None:
        parent_sock, child_sock = socket.socketpair()
        config = {"memory_mb": memory_mb, "cpu_s": cpu_s, "modules": list(modules), "parent": os.getpid(),
                  "ocr_cache": ocr_cache, "ocr_engine": ocr_engine, "ocr_timeout_s": ocr_timeout_s}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, json.dumps(sys.path), str(child_sock.fileno()),
                 json.dumps(config)],
                pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        self.memory_mb = memory_mb
        self._handshake()

    def _handshake(self) -> None:
        if not self.conn.poll(STARTUP_TIMEOUT_S):
            self.kill()
            raise RuntimeError(f"parse worker did not start within {STARTUP_TIMEOUT_S:g} s")
        try:
            status, detail = self.conn.recv()
        except (EOFError, OSError):
            status, detail = "fatal", self.death_reason()
        if status != "ready":
            self.kill()
            raise RuntimeError(f"parse worker failed to start: {detail}")

    def send(self, job: Job) -> bool:
        try:
            self.conn.send((job.name, job.data) if isinstance(job, ParseJob) else str(job))
            return True
        except (BrokenPipeError, ConnectionError, OSError):
            return False

    def receive(self) -> ParseResult | Lease:
        try:
            data = self.conn.recv_bytes(MAX_REPLY_BYTES)
        except (EOFError, OSError):
            return ParseResult(error=self.death_reason())
        try:
            status, payload = _Unpickler(io.BytesIO(data)).load()
        except Exception as exc:  # a reply we cannot trust or read
            self.kill()
            return ParseResult(error=f"unreadable result from the parser process: {exc}")
        if status == "ok":
            return ParseResult(documents=payload)
        if status == "lease":
            return Lease(float(payload))
        if status == "unsupported":
            return ParseResult(error=payload, unsupported=True)
        if status == "oom":
            self.close(0.5)  # it exits after a MemoryError; start afresh
            return ParseResult(error=f"parser ran out of memory (limit {self.memory_mb} MB)")
        return ParseResult(error=str(payload))

    def death_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return "parser process stopped responding"
        self.conn.close()
        if code >= 0:
            return f"parser process exited unexpectedly (exit code {code})"
        sig = -code
        name = signal.Signals(sig).name if sig in signal.valid_signals() else str(sig)
        if sig == signal.SIGABRT:  # a native library (calamine, pdfium) failing an allocation under the cap
            return f"parser process aborted (signal {sig}, {name}; out of memory in a native library?)"
        if sig == signal.SIGXCPU:
            return "parser exceeded its CPU time limit"
        if sig == signal.SIGKILL:
            return f"parser process was killed (signal {sig}, {name}; out of memory?)"
        return f"parser process died (signal {sig}, {name})"



def _shutdown(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.close(0.5)
    workers.clear()


class ParsePool:
    """Parses files in up to ``workers`` isolated processes, reused across files.

    ``extra_modules`` are imported in the parent and in every worker before parsing, so
    parsers they register (``ragd.index.parse.register``) are used on both sides.
    ``ocr_cache`` is the folder where workers keep OCR results (None: no cache; a re-parse OCRs
    again) and ``ocr_engine`` one of ``ragd.index.parse.ocr.ENGINES``. A file that needs OCR may take
    ``ocr_timeout_s`` instead of ``timeout_s`` (its worker says so when OCR starts: a scan of many pages is
    read whole, while a parser that hangs on anything else is still stopped at ``timeout_s``); None: OCR
    stops at a share of ``timeout_s`` and the pages left are named in the document's meta.
    Not thread-safe: use one pool from one thread at a time.
    """

    def __init__(self, workers: int = 1, timeout_s: float = 60.0, memory_mb: int = 1024,
                 extra_modules: Sequence[str] = (), ocr_cache: Path | str | None = None,
                 ocr_engine: str = "auto", ocr_timeout_s: float | None = None) -> None:
        if workers < 1 or timeout_s <= 0 or memory_mb <= 0:
            raise ValueError("workers, timeout_s and memory_mb must be positive")
        self.workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.ocr_cache = str(ocr_cache) if ocr_cache is not None else None
        self.ocr_engine = ocr_engine
        self.ocr_timeout_s = ocr_timeout_s
        self.extra_modules = tuple(extra_modules)
        for module in self.extra_modules:
            importlib.import_module(module)
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._closed = False
        self._finalizer = weakref.finalize(self, _shutdown, self._all)

    def parse(self, job: Job) -> ParseResult:
        """Parse one file (or item)."""
        for _, result in self.parse_many([job]):
            return result
        raise AssertionError("unreachable")

    def parse_many(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, ParseResult]]:
        """Parse ``jobs``, up to ``workers`` at a time; yield (job, result) as each finishes.

        The job yielded is the object that was passed in. Stopping the iteration early
        kills the workers still busy with files whose results are no longer wanted.
        """
        if self._closed:
            raise RuntimeError("ParsePool is closed")
        pending = iter(jobs)
        busy: dict[_Worker, tuple[Job, float, float]] = {}  # job, started, deadline
        exhausted = False
        try:
            while True:
                while not exhausted and len(busy) < self.workers:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                        break
                    named = job.path if isinstance(job, ParseJob) else job
                    if parser_for(named) is None:
                        suffix = named.suffix or "(no suffix)"
                        yield job, ParseResult(error=f"unsupported file type: {suffix}", unsupported=True)
                        continue
                    worker = self._dispatch(job)
                    started = time.monotonic()
                    busy[worker] = (job, started, started + self.timeout_s)
                if not busy:
                    return
                wait_s = max(0.0, min(deadline for _, _, deadline in busy.values()) - time.monotonic())
                ready = set(wait([w.conn for w in busy], wait_s))
                now = time.monotonic()
                finished: list[tuple[Job, ParseResult]] = []
                for worker, (job, started, deadline) in list(busy.items()):
                    if worker.conn in ready:
                        result = worker.receive()
                        if isinstance(result, Lease):
                            busy[worker] = (job, started, max(deadline, now + result.seconds))
                            continue
                    elif now >= deadline:
                        worker.kill()
                        result = ParseResult(error=f"timed out after {deadline - started:.4g} s")
                    else:
                        continue
                    del busy[worker]
                    self._release(worker)
                    finished.append((job, result))
                yield from finished
        finally:
            for worker in busy:
                worker.kill()
                self._release(worker)

    def _dispatch(self, job: Job) -> _Worker:
        """Hand ``job`` to an idle worker, starting or replacing one as needed."""
        for _ in range(2):
            while self._idle and not self._idle[-1].alive():
                self._forget(self._idle.pop())
            worker = self._idle.pop() if self._idle else self._start()
            if worker.send(job):
                return worker
            worker.kill()
            self._forget(worker)
        raise RuntimeError("cannot hand a file to a parse worker")

    def _start(self) -> _Worker:
        worker = _Worker(self.memory_mb, self.timeout_s + 5, self.extra_modules, self.ocr_cache, self.ocr_engine,
                         self.ocr_timeout_s)
        self._all.append(worker)
        return worker

    def _release(self, worker: _Worker) -> None:
        if worker.alive():
            self._idle.append(worker)
        else:
            self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        worker.kill()
        if worker in self._all:
            self._all.remove(worker)

    def close(self) -> None:
        self._closed = True
        self._idle.clear()
        self._finalizer()

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# --- the worker side -------------------------------------------------------------------------


def _limit_memory(memory_mb: int) -> None:
    import resource

    limit = memory_mb << 20
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError) as exc:  # e.g. macOS does not enforce RLIMIT_AS
        log.debug("cannot limit memory: %s", exc)


def _limit_cpu(seconds: float) -> None:
    """Allow this job ``seconds`` more CPU time than used so far (SIGXCPU past it)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ValueError, OSError) as exc:
        log.debug("cannot limit CPU time: %s", exc)


def _handle(job: str | tuple[str, bytes]) -> tuple[str, Any]:
    path = job if isinstance(job, str) else job[0]
    try:
        if isinstance(job, str):
            return "ok", parse_file(Path(job))
        if len(job[1]) > MAX_FILE_BYTES:
            raise ParseError(f"refused: item too large ({len(job[1]) >> 20} MB)")
        return "ok", parse_bytes(Path(job[0]), job[1])
    except UnsupportedFormat as exc:
        return "unsupported", str(exc)
    except ParseError as exc:
        return "error", str(exc)
    except MemoryError:
        return "oom", None
    except Exception as exc:  # a bug in a parser: still one file's error, not the worker's end
        log.exception("parser crashed on %s", path)
        return "error", f"parser crashed: {type(exc).__name__}: {exc}"


def _worker_main(fd: int, config: dict[str, Any]) -> None:
    conn = Connection(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes the pool
    logging.basicConfig(level=logging.WARNING, format="ragd parse worker: %(name)s: %(message)s")
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    watch_parent(int(config["parent"]))
    _limit_memory(int(config["memory_mb"]))
    try:
        for module in config["modules"]:
            importlib.import_module(module)
        from ragd.index.parse import ocr, registered_suffixes

        # OCR stops taking pages at 60% of the time a job has (wall or CPU: onnxruntime's threads count
        # against RLIMIT_CPU), so a long scan gives its first pages, not a timeout.
        ocr_timeout_s = config.get("ocr_timeout_s")

        def lease() -> float:  # this file needs OCR: ask the pool for its OCR time, and take the CPU time for it
            seconds = float(ocr_timeout_s)  # type: ignore[arg-type]
            if not send_quietly(conn, ("lease", seconds + 5)):
                raise SystemExit(0)  # the pool is gone: nothing to parse for
            _limit_cpu((seconds + 5) * (os.cpu_count() or 1))  # OCR's threads all count against RLIMIT_CPU
            return seconds

        ocr.configure(cache_dir=config.get("ocr_cache"), engine=str(config.get("ocr_engine") or "auto"),
                      budget_s=0.6 * (float(config["cpu_s"]) - 5), lease=lease if ocr_timeout_s else None)
        registered_suffixes()  # load the built-in parsers now, not during the first timed job
    except BaseException as exc:
        send_quietly(conn, ("fatal", f"{type(exc).__name__}: {exc}"))
        return
    if not send_quietly(conn, ("ready", os.getpid())):
        return
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        _limit_cpu(float(config["cpu_s"]))
        reply = _handle(job)
        try:
            sent = send_quietly(conn, reply)
        except MemoryError:
            reply = ("oom", None)
            sent = send_quietly(conn, reply)
        except (pickle.PicklingError, TypeError, ValueError, RecursionError) as exc:
            sent = send_quietly(conn, ("error", f"parse result could not be returned: {exc}"))
        if not sent or reply[0] == "oom":  # the pool closed its end (ragd is stopping): leave quietly
            return
