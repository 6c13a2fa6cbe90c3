"""Browser sessions for the web page, without ever giving the page the API token.

``ragd open`` (or the tray) asks the daemon, with the token, for a one-time link. Visiting it
exchanges the code for a session cookie (HttpOnly, SameSite=Strict); the code is then spent.
Sessions live in the daemon's memory only: a restart asks for a new link.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable

COOKIE = "ragd_session"
CODE_TTL_S = 120.0
SESSION_TTL_S = 7 * 24 * 3600.0


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._codes: dict[str, float] = {}  # code -> expiry
        self._sessions: dict[str, float] = {}  # session id -> expiry
        self._lock = threading.Lock()

    def new_code(self) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._prune()
            self._codes[code] = self.clock() + CODE_TTL_S
        return code

    def redeem(self, code: str) -> str | None:
        """A new session id for an unspent, unexpired code (which is spent now), else None."""
        with self._lock:
            self._prune()
            if self._codes.pop(code, None) is None:
                return None
            session = secrets.token_urlsafe(32)
            self._sessions[session] = self.clock() + SESSION_TTL_S
            return session

    def valid(self, session: str) -> bool:
        with self._lock:
            now = self.clock()
            for known, expiry in self._sessions.items():
                if hmac.compare_digest(known, session):
                    return expiry > now
        return False

    def _prune(self) -> None:
        now = self.clock()
        self._codes = {c: t for c, t in self._codes.items() if t > now}
        self._sessions = {s: t for s, t in self._sessions.items() if t > now}
