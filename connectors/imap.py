"""The IMAP connector: one mailbox on a mail server is a source, each message an item.

A source is ``imap://user@host[:port]/Mailbox`` (``imaps://`` for TLS from the start; plain ``imap://`` to any
host but this machine's loopback upgrades with STARTTLS or refuses to log in). The password is never in the
source or the config file: it comes from the keyring (service ``ragd``, user ``user@host``) when the ``keyring``
package is installed, else from ``RAGD_IMAP_PASSWORD``.

A message's key is ``<source>/;UIDVALIDITY=<v>/;UID=<uid>``: the folder and UID a citation names. In IMAP a
UID under one UIDVALIDITY never names other bytes, so the pair is the message's fingerprint (nothing is hashed)
and a mailbox rebuilt by its server (a new UIDVALIDITY) is indexed anew. Its size and INTERNALDATE stand for a
file's size and mtime. The mailbox is opened read-only (EXAMINE) and bodies are fetched with BODY.PEEK, so
indexing marks nothing as read. Changes are found by polling STATUS (``[mail] poll_s``); a citation is checked
by fetching its message again. A server that cannot be reached makes a scan raise ``SourceUnavailable``: the
messages already indexed stay until the server answers again.
"""

from __future__ import annotations

import contextlib
import errno
import imaplib
import ipaddress
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlsplit

from ragd.connectors import Connector, Entry, SourceContext
from ragd.index.errors import ConfigError, SourceError, SourceUnavailable

log = logging.getLogger(__name__)

PASSWORD_ENV = "RAGD_IMAP_PASSWORD"
KEYRING_SERVICE = "ragd"
MEDIA_TYPE = "message/rfc822"
_FETCHED = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)|INTERNALDATE \"([^\"]+)\"")
_ITEM = re.compile(r"/;UIDVALIDITY=(\d+)/;UID=(\d+)$")
_STATUS = re.compile(rb"(MESSAGES|UIDNEXT|UIDVALIDITY) (\d+)")
T = TypeVar("T")


def password_for(user: str, host: str, env: Mapping[str, str]) -> str | None:
    """The keyring's password for ``user@host``, else the environment's; None if neither has one."""
    try:
        import keyring

        found = keyring.get_password(KEYRING_SERVICE, f"{user}@{host}")
        if found:
            return str(found)
    except Exception as exc:  # not installed, or no usable back-end on this machine
        log.debug("no keyring: %s", exc)
    return env.get(PASSWORD_ENV) or None


class ImapConnector:
    kind: ClassVar[str] = "imap"
    schemes: ClassVar[tuple[str, ...]] = ("imap", "imaps")

    def __init__(self, spec: str, password: Callable[[], str | None], *, poll_s: float = 60.0,
                 timeout_s: float = 30.0, max_bytes: int = 64 << 20, unreadable: Any = None) -> None:
        parts = urlsplit(spec)
        if parts.password is not None:
            raise ConfigError("an IMAP source must not hold its password; store it in the keyring "
                              f"(service {KEYRING_SERVICE!r}) or set {PASSWORD_ENV}")
        if not parts.username or not parts.hostname:
            raise ConfigError(f"an IMAP source names its user and server: imap://user@host/Mailbox, not {spec!r}")
        self.tls = parts.scheme.lower() == "imaps"
        self.user = unquote(parts.username)
        self.host = parts.hostname
        self.port = parts.port or (993 if self.tls else 143)
        self.mailbox = unquote(parts.path.strip("/")) or "INBOX"
        self.root = spec.rstrip("/")
        self.poll_s: float | None = poll_s
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.unreadable = unreadable
        self._password = password
        self._conn: imaplib.IMAP4 | None = None
        self._validity: int | None = None
        self._status: tuple[int, ...] | None = None  # MESSAGES, UIDNEXT, UIDVALIDITY at the last poll
        self._lock = threading.RLock()

    @classmethod
    def open(cls, spec: str, context: SourceContext) -> Connector:
        s = context.settings
        host = urlsplit(spec).hostname or ""
        user = unquote(urlsplit(spec).username or "")
        return cls(spec, lambda: password_for(user, host, context.env), poll_s=s.mail.poll_s,
                   timeout_s=s.mail.timeout_s, max_bytes=int(s.max_file_mb * 1024 * 1024),
                   unreadable=context.unreadable)

    # -- the Connector protocol -----------------------------------------------------------------
    def probe(self) -> None:
        try:
            self._call(lambda conn: conn.noop())
        except SourceUnavailable as exc:
            raise SourceError(str(exc)) from None

    def covers(self, key: str) -> bool:
        return key == self.root or (key.startswith(self.root + "/;UIDVALIDITY=") and _ITEM.search(key) is not None)

    def is_container(self, key: str) -> bool:
        return key == self.root

    def scan(self) -> Iterator[Entry]:
        try:
            entries = self._call(self._list)
        except SourceUnavailable as exc:
            self._settle(str(exc))
            raise
        self._settle(None)
        yield from entries

    def scan_under(self, key: str) -> Iterator[Entry]:
        if key == self.root:
            yield from self.scan()

    def entry(self, key: str) -> Entry | None:
        found = _ITEM.search(key) if self.covers(key) else None
        if found is None:
            return None
        validity, uid = int(found.group(1)), int(found.group(2))
        try:
            entries = self._call(lambda conn: self._fetch_meta(conn, str(uid), fresh=True))
        except SourceUnavailable:
            return None
        if self._validity != validity:
            return None
        return entries[0] if entries else None

    def read(self, key: str) -> bytes:
        found = _ITEM.search(key) if self.covers(key) else None
        if found is None:
            raise OSError(errno.ENOENT, "not a message of this mailbox", key)
        uid = found.group(2)
        try:
            data = self._call(lambda conn: self._fetch_body(conn, uid))
        except SourceUnavailable as exc:
            raise OSError(errno.EIO, str(exc), key) from None
        if self._validity != int(found.group(1)) or data is None:
            raise OSError(errno.ENOENT, "the message is no longer in its mailbox", key)
        return data

    def local_path(self, key: str) -> str | None:
        return None

    def changed(self) -> bool:
        """True when the mailbox's STATUS (messages, next UID, UIDVALIDITY) differs from the last poll's (and at
        the first poll, which may come after the start's scan missed a message)."""
        try:
            status = self._call(self._mailbox_status)
        except SourceUnavailable as exc:
            self._settle(str(exc))
            return False
        self._settle(None)
        before, self._status = self._status, status
        return before != status

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                conn.logout()

    # -- the session ----------------------------------------------------------------------------
    def _call(self, job: Callable[[imaplib.IMAP4], T]) -> T:
        """``job`` on the open session (connecting first), retried once on a fresh one if the connection broke."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    return job(self._session())
                except (imaplib.IMAP4.abort, OSError, EOFError) as exc:
                    self._drop()
                    if attempt == 2:
                        raise SourceUnavailable(f"{self.host}:{self.port}: {exc or type(exc).__name__}") from None
                except imaplib.IMAP4.error as exc:
                    self._drop()
                    raise SourceUnavailable(f"{self.host}:{self.port}: {_text(exc)}") from None
            raise AssertionError("unreachable")

    def _session(self) -> imaplib.IMAP4:
        if self._conn is not None:
            return self._conn
        password = self._password()
        if not password:
            raise SourceUnavailable(f"no password for {self.user}@{self.host}: store it in the keyring (service "
                                    f"{KEYRING_SERVICE!r}, user {self.user}@{self.host}) or set {PASSWORD_ENV}")
        conn: imaplib.IMAP4
        if self.tls:
            conn = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=ssl.create_default_context(),
                                     timeout=self.timeout_s)
        else:
            conn = imaplib.IMAP4(self.host, self.port, timeout=self.timeout_s)
            if not _loopback(self.host):
                if "STARTTLS" not in conn.capabilities:
                    conn.shutdown()
                    raise SourceUnavailable(f"{self.host} offers no STARTTLS: use imaps:// (a password is never "
                                            "sent in the clear beyond this machine)")
                conn.starttls(ssl.create_default_context())
        try:
            conn.login(self.user, password)
            typ, data = conn.select(_quoted(self.mailbox), readonly=True)
            if typ != "OK":
                raise SourceUnavailable(f"no mailbox {self.mailbox!r} on {self.host}: {_text(data)}")
            validity = conn.response("UIDVALIDITY")[1]
            self._validity = int(validity[0]) if validity and validity[0] else None
        except BaseException:
            conn.shutdown()
            raise
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown()

    # -- commands -------------------------------------------------------------------------------
    def _list(self, conn: imaplib.IMAP4) -> list[Entry]:
        conn.noop()  # the server reports new and expunged messages with its answer
        typ, data = conn.uid("SEARCH", "ALL")
        if typ != "OK":
            raise SourceUnavailable(f"cannot list {self.mailbox!r}: {_text(data)}")
        uids = (data[0] or b"").split() if data else []
        return self._fetch_meta(conn, b",".join(uids).decode()) if uids else []

    def _fetch_meta(self, conn: imaplib.IMAP4, uids: str, fresh: bool = False) -> list[Entry]:
        if fresh:
            conn.noop()  # learn of messages expunged by another session first
        typ, data = conn.uid("FETCH", uids, "(UID RFC822.SIZE INTERNALDATE)")
        if typ != "OK":
            raise SourceUnavailable(f"cannot fetch from {self.mailbox!r}: {_text(data)}")
        entries = []
        for line in data:
            if not isinstance(line, bytes):
                continue
            fields: dict[int, bytes] = {}
            for match in _FETCHED.finditer(line):
                for group in (1, 2, 3):
                    if match.group(group) is not None:
                        fields[group] = match.group(group)
            if 1 in fields and 2 in fields:
                entries.append(self._entry(int(fields[1]), int(fields[2]), fields.get(3, b"").decode()))
        return entries

    def _entry(self, uid: int, size: int, internal_date: str) -> Entry:
        key = f"{self.root}/;UIDVALIDITY={self._validity}/;UID={uid}"
        skip = f"larger than max_file_mb ({size >> 20} MB)" if size > self.max_bytes else None
        return Entry(key, size, _date_ns(internal_date), skip, MEDIA_TYPE, f"imap:{self._validity}/{uid}")

    def _fetch_body(self, conn: imaplib.IMAP4, uid: str) -> bytes | None:
        conn.noop()  # learn of messages expunged by another session first
        typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
        if typ != "OK":
            raise SourceUnavailable(f"cannot fetch message {uid}: {_text(data)}")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None

    def _mailbox_status(self, conn: imaplib.IMAP4) -> tuple[int, ...]:
        conn.noop()  # the selected mailbox's STATUS is the session's view: brought up to date first
        typ, data = conn.status(_quoted(self.mailbox), "(MESSAGES UIDNEXT UIDVALIDITY)")
        if typ != "OK" or not data or not isinstance(data[0], bytes):
            raise SourceUnavailable(f"no status for {self.mailbox!r}: {_text(data)}")
        found = dict(_STATUS.findall(data[0]))
        return tuple(int(found.get(k, b"0")) for k in (b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY"))

    def _settle(self, problem: str | None) -> None:
        """Say in the daemon's problems why this mailbox cannot be read (or that it can again)."""
        if self.unreadable is not None:
            self.unreadable.settle(self.root, {self.root: problem} if problem else {})


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _date_ns(internal_date: str) -> int:
    try:
        return int(datetime.strptime(internal_date, "%d-%b-%Y %H:%M:%S %z").timestamp()) * 1_000_000_000
    except ValueError:
        return 0


def _text(data: object) -> str:
    if isinstance(data, list | tuple):
        data = b" ".join(d for d in data if isinstance(d, bytes))
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)
