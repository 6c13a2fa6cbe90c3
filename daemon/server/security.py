"""Who may talk to the daemon: the token file, the daemon file, and the ASGI guard in front of every route.

- A random token, made on first start in a file only the user can read (0600), is required as
  ``Authorization: Bearer`` on everything but ``/healthz`` and the page's static files. The page
  itself uses a session cookie instead (see ``sessions``), accepted only from the daemon's own origin.
- A request whose ``Host`` is not a loopback name (or the address the user chose to bind) is
  refused: a web page cannot reach the API through DNS rebinding.
- A request that carries a foreign ``Origin`` is refused and no CORS header is ever sent, so no
  other web page can read or write through the user's browser.
- Request bodies are bounded.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

from ragd.daemon.server.sessions import COOKIE, Sessions
from ragd.index.errors import RagdError
from ragd.index.private import PrivacyError, open_private, read_private, write_private

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/healthz", "/", "/session", "/favicon.ico"})  # the page itself holds no data
PUBLIC_PREFIXES = ("/static/",)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # one-time links never leak through a Referer
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
]
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


# -- files only the user can read ----------------------------------------------------------------
# They live in the state folder and are opened through ragd.index.private: never through a link, and only
# when they are regular files of this user (someone who could write there may have planted one).
def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (the temp file is private from the start)."""
    write_private(path, text)


def ensure_token(path: Path) -> str:
    """The API token: read it, or create it on first start. A token file others can read is made private;
    a link or someone else's file is refused (``PrivacyError``), never followed nor changed."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        token = secrets.token_urlsafe(32)
        _write_private(path, token + "\n")
        return token
    try:
        if os.fstat(fd).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s was readable by others; its mode is now 0600", path)
            os.fchmod(fd, 0o600)  # the file just opened and checked, not whatever the name points to now
        token = os.read(fd, 4096).decode("utf-8", errors="replace").strip()
    finally:
        os.close(fd)
    if len(token) < 32:
        raise RagdError(f"the API token in {path} is too short; delete the file to make a new one")
    return token


def read_token(path: Path) -> str | None:
    """The token for a client; None when there is none, or when the file is a link or not the user's."""
    try:
        return (read_private(path) or "").strip() or None
    except PrivacyError as exc:
        log.warning("ignoring the API token: %s", exc)
        return None
    except OSError:
        return None


def write_daemon_file(path: Path, url: str, pid: int) -> None:
    """Where the running daemon listens, for the CLI and the tray."""
    _write_private(path, json.dumps({"url": url, "pid": pid}) + "\n")


def read_daemon_file(path: Path) -> dict[str, Any] | None:
    """The running daemon's address; None when missing or unreadable, and when the file is a link or
    someone else's: a planted file must not send the user's token to another server."""
    try:
        text = read_private(path)
        data = json.loads(text) if text is not None else None
    except PrivacyError as exc:
        log.warning("ignoring the daemon file: %s", exc)
        return None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None


# -- the guard -------------------------------------------------------------------------------------
def host_name(host_header: str) -> str:
    """``Host`` without its port: ``[::1]:8765`` → ``::1``, ``localhost:8765`` → ``localhost``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware that checks Host, Origin, the token and the body size before any route runs."""

    def __init__(self, app: ASGIApp, token: str, *, port: int, extra_hosts: frozenset[str] = frozenset(),
                 max_body: int = 256 * 1024, sessions: Sessions | None = None) -> None:
        self.app = app
        self.token = token.encode()
        self.sessions = sessions
        self.port = port
        self.hosts = LOOPBACK_NAMES | extra_hosts
        self.max_body = max_body

    def allowed_origins(self) -> set[str]:
        names = {f"[{h}]" if ":" in h else h for h in self.hosts}
        return {f"http://{name}:{self.port}" for name in names}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the API has none
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if host_name(headers.get("host", "")) not in self.hosts:
            await _reject(send, 403, "forbidden_host", "this API answers only requests addressed to localhost")
            return
        origin = headers.get("origin")
        if origin is not None and origin not in self.allowed_origins():
            await _reject(send, 403, "forbidden_origin", "requests from other web pages are not allowed")
            return
        path = scope["path"]
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if not public and not (self._bearer(headers.get("authorization", "")) or self._page_session(headers)):
            await _reject(send, 401, "unauthorized",
                          "missing or wrong token: send 'Authorization: Bearer <token>' (the token is in the "
                          "daemon's token file; `ragd status` shows where)", {"www-authenticate": "Bearer"})
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _reject(send, 413, "too_large", f"the request body is larger than {self.max_body} bytes")
            return
        await self._bounded(scope, receive, send)

    def _bearer(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token)

    def _page_session(self, headers: dict[str, str]) -> bool:
        """The page's cookie, on a request the daemon's own page made (its Origin, or same-origin fetch)."""
        if self.sessions is None or "cookie" not in headers:
            return False
        origin = headers.get("origin")
        if origin is None and headers.get("sec-fetch-site") != "same-origin":
            return False
        jar = SimpleCookie()
        try:
            jar.load(headers["cookie"])
        except CookieError:
            return False
        morsel = jar.get(COOKIE)
        return morsel is not None and self.sessions.valid(morsel.value)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; a body sent without a length that grows past the limit ends as a 413."""
        seen = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if over:
                    return
                started = True
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            if over and not started:
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not over:
                raise  # the app's own failure; only the cut-off body is ours to answer
        if over and not started:
            await _reject(send, 413, "too_large", f"the request body is larger than {self.max_body} bytes")


async def _reject(send: Send, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
    # the app's shape (``app._error_handlers``: message, type), with the guard's reason as the code, as OpenAI's
    # string codes are
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *SECURITY_HEADERS]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
