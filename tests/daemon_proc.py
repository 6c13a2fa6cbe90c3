"""A real ``ragd serve`` in a subprocess on loopback, for end-to-end tests and the latency benchmark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import REPO, ragd_cmd, ragd_env


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


class Daemon:
    def __init__(self, home: Path, folders: list[Path], **env: str) -> None:
        self.home = home
        self.folders = folders
        self.env = ragd_env(home, **{"RAGD_DEBOUNCE_S": "0.2", **env})
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.http: httpx.Client | None = None
        self.log = home / "daemon.log"

    @property
    def daemon_file(self) -> Path:
        return self.home / "state" / "daemon.json"

    @property
    def token_file(self) -> Path:
        return self.home / "state" / "api-token"

    def start(self, timeout: float = 300) -> Daemon:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(ragd_cmd("serve", *map(str, self.folders), "--port", "0"), env=self.env,
                                         cwd=REPO, stdout=log, stderr=log)

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"ragd serve exited {self.proc.returncode}:\n{self.tail()}")
            try:
                info = json.loads(self.daemon_file.read_text())
            except (OSError, ValueError):
                return False
            if info.get("pid") != self.proc.pid:
                return False
            self.url = info["url"]
            return True

        wait_until(ready, timeout, "the daemon to start", every=0.2)
        self.http = httpx.Client(base_url=self.url, trust_env=False, timeout=300,
                                 headers={"Authorization": f"Bearer {self.token_file.read_text().strip()}"})
        return self

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def api(self) -> httpx.Client:
        assert self.http is not None, "not started"
        return self.http

    def status(self) -> dict[str, Any]:
        r = self.api().get("/v1/status")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def settled(self, timeout: float = 300) -> dict[str, Any]:
        """Wait until every change queued so far is written."""
        ticket = int(self.api().post("/v1/reindex", json={"paths": [str(self.folders[0] / ".settle")]})
                     .json()["request"])
        return wait_until(lambda: (s := self.status())["indexing"]["done_through"] >= ticket and s, timeout,
                          "the index to settle", every=0.1)

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        r = self.api().post("/v1/search", json={"query": query, "k": k})
        r.raise_for_status()
        return list(r.json()["hits"])

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._close()

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._close()
        return code

    def _close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None

    def stop_quietly(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
        self._close()
