"""What the parser and embedding workers share: a child interpreter, the parent's end of its socket, and how
either side notices the other is gone."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)


class Child:
    """A worker process (``proc``) and the parent's end of its socket (``conn``); ``label`` names it in logs."""

    label = "worker"
    proc: subprocess.Popen[bytes]
    conn: Connection

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.conn.closed

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("%s %d did not exit after SIGKILL", self.label, self.proc.pid)
        if not self.conn.closed:
            self.conn.close()

    def close(self, grace_s: float = 1.0) -> None:
        """Ask it to exit (``None`` on the socket), then make sure it did."""
        if self.proc.poll() is None and not self.conn.closed:
            try:
                self.conn.send(None)
                self.proc.wait(timeout=grace_s)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


def watch_parent(parent: int) -> None:
    """In a worker: exit as soon as the parent is gone, even in the middle of a job."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def send_quietly(conn: Connection, message: Any) -> bool:
    """In a worker: send ``message``; False when the parent has closed its end (it is stopping, or gone), so
    the worker leaves quietly instead of printing a broken pipe's traceback into the daemon's log."""
    try:
        conn.send(message)
    except OSError:  # BrokenPipeError, ConnectionResetError, or the socket already closed
        return False
    return True
