"""The CLI's way to a running daemon: its address from the daemon file, the token from the token file.

Kept light on purpose (httpx and the standard library only): with a daemon running, ``ragd search``
never imports torch, llama.cpp or chromadb.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from ragd.daemon.server.security import read_daemon_file, read_token
from ragd.index.errors import RagdError


class DaemonError(RagdError):
    """The daemon refused a request or could not be reached; the message is its reason."""


class DaemonClient:
    def __init__(self, url: str, token: str, timeout: float = 600.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=httpx.Timeout(timeout, connect=2.0), trust_env=False)

    @classmethod
    def find(cls, daemon_file: Path, token_file: Path) -> DaemonClient | None:
        """A client for the daemon that is running now, or None if there is none."""
        info = read_daemon_file(daemon_file)
        token = read_token(token_file)
        if info is None or token is None:
            return None
        pid = info.get("pid")
        if isinstance(pid, int) and not pid_alive(pid):
            return None
        client = cls(str(info["url"]), token)
        try:
            ok = client.http.get("/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            ok = False
        if not ok:
            client.close()
            return None
        return client

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json(self._send("GET", path, params=params))

    def post(self, path: str, body: Any = None) -> Any:
        return self._json(self._send("POST", path, json=body))

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json(self._send("DELETE", path, params=params))

    def events(self, path: str, body: Any) -> Iterator[tuple[str, Any]]:
        """A server-sent event stream as (event, decoded data) pairs."""
        try:
            with self.http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self._json(response)
                event, data = "message", list[str]()
                for line in response.iter_lines():
                    if not line:
                        if data:
                            yield event, json.loads("\n".join(data))
                        event, data = "message", []
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
        except httpx.HTTPError as exc:
            raise DaemonError(f"lost the daemon at {self.url}: {exc}") from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DaemonError(f"cannot reach the daemon at {self.url}: {exc}") from None

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            raise DaemonError(str(message or f"the daemon answered {response.status_code}"))
        return data


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
