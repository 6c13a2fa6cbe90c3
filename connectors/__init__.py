"""Where documents come from. Every source implements the one ``Connector`` protocol.

A source is stored as (kind, spec): ``("files", "/home/me/notes")``, ``("imap", "imap://me@host/INBOX")``. The
kind names a connector in the ``ragd.connectors`` entry-point group (ragd's own are declared there as an
extension declares its own); a spec that is a URL names its connector by scheme, any other spec is a path.

A connector lists items, each under a key: a file's key is its absolute path (what the catalog has always stored),
any other item's key is a URL of its connector's scheme. It reads an item's bytes (``read``), which is also how a
citation into the item is checked later; the parser workers take those bytes, except that a local file's path is
handed over instead (``local_path``) so that its bytes are read once, in the worker, and not copied through the
parent.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ragd.index.errors import ConfigError
from ragd.index.paths import is_url
from ragd.index.plugins import Registry

__all__ = ["CONNECTORS", "CONNECTOR_REGISTRY", "FILES", "Connector", "Entry", "SourceContext", "is_url", "kind_of",
           "open_source"]

CONNECTORS = "ragd.connectors"  # a Connector class with ``open(spec, context)``
FILES = "files"


@dataclass(frozen=True)
class Entry:
    """An item a connector found: its key, size and modification time, and why it is skipped (if it is).

    ``media_type`` chooses the parser when the key has no file suffix (``message/rfc822`` parses as ``.eml``);
    ``fingerprint`` is the connector's own identity of the content (an IMAP message's UIDVALIDITY and UID never
    name other bytes), used instead of hashing the bytes; None: the bytes are hashed.
    """

    path: str  # the key: an absolute path for a file, a URL for any other item
    size: int
    mtime_ns: int
    skip_reason: str | None = None
    media_type: str | None = None
    fingerprint: str | None = None

    @property
    def parse_name(self) -> str:
        """The name a parser is chosen by: the key, or a name with the media type's suffix."""
        return name_for(self.path, self.media_type)


def name_for(key: str, media_type: str | None) -> str:
    if media_type is None:
        return key
    suffix = MEDIA_SUFFIXES.get(media_type) or mimetypes.guess_extension(media_type) or ""
    return f"item{suffix}"


MEDIA_SUFFIXES = {"message/rfc822": ".eml", "text/markdown": ".md", "text/plain": ".txt"}


@dataclass(frozen=True)
class SourceContext:
    """What a connector is opened with: the settings, the environment (secrets are read from it or a keyring,
    never from the config file) and every source's spec (the files connector follows links into them)."""

    settings: Any  # ragd.daemon.config.Config; typed loosely so that connectors do not import the daemon
    env: Mapping[str, str] = field(default_factory=dict)
    sources: Sequence[str] = ()
    unreadable: Any = None  # ragd.connectors.files.Unreadable: folders a scan could not read


@runtime_checkable
class Connector(Protocol):
    kind: ClassVar[str]  # its name in ragd.connectors: "files", "imap"
    schemes: ClassVar[tuple[str, ...]]  # the URL schemes of its specs; () for plain paths
    root: str  # the source's spec
    poll_s: float | None  # how often ``changed`` is asked; None: its changes come as file events (the watcher)

    @classmethod
    def open(cls, spec: str, context: SourceContext) -> Connector:
        """The connector of one source; ConfigError (or SourceError) with a reason when the spec is unusable."""
        ...

    def probe(self) -> None:
        """SourceError with a reason unless the source can be read now (asked when a user adds it)."""
        ...

    def scan(self) -> Iterator[Entry]:
        """Every item of this source, once each."""
        ...

    def covers(self, key: str) -> bool:
        """True if ``key`` belongs to this source (whether or not it exists)."""
        ...

    def entry(self, key: str) -> Entry | None:
        """The entry for one item of this source, or None if it is gone, filtered out or a container."""
        ...

    def is_container(self, key: str) -> bool:
        """True if ``key`` holds items (a folder, a mailbox) rather than being one."""
        ...

    def scan_under(self, key: str) -> Iterator[Entry]:
        """What ``scan`` would yield below ``key`` (a container inside this source)."""
        ...

    def read(self, key: str) -> bytes:
        """The item's bytes as they are now; OSError if it cannot be read (gone, no connection)."""
        ...

    def local_path(self, key: str) -> str | None:
        """A file on this machine that holds the item's bytes (a parser worker may open it), or None."""
        ...

    def changed(self) -> bool:
        """Whether the source changed since the last call (polled every ``poll_s``; False if never polled)."""
        ...

    def close(self) -> None:
        """Let go of connections; the connector may be used again (it reconnects)."""
        ...


def _checked(obj: object) -> type[Connector]:
    kind = getattr(obj, "kind", None)
    if not (isinstance(obj, type) and callable(getattr(obj, "open", None)) and isinstance(kind, str)):
        raise TypeError(f"{obj!r} is not a connector class (it needs `kind`, `schemes` and `open(spec, context)`)")
    return obj


CONNECTOR_REGISTRY: Registry[type[Connector]] = Registry(CONNECTORS, "connector", _checked)


def kind_of(spec: str) -> str:
    """The connector kind a source spec names: by URL scheme, or ``files`` for a path."""
    if not is_url(spec):
        return FILES
    scheme = urlsplit(spec).scheme.lower()
    for kind, cls in CONNECTOR_REGISTRY.all().items():
        if scheme in cls.schemes:
            return kind
    known = sorted({s for cls in CONNECTOR_REGISTRY.all().values() for s in cls.schemes})
    raise ConfigError(f"no connector reads {scheme}:// sources (installed: {', '.join(known) or 'none'})")


def open_source(spec: str, context: SourceContext, kind: str | None = None) -> Connector:
    """The connector of the source ``spec`` (of ``kind``, or the kind its spec names)."""
    return CONNECTOR_REGISTRY.get(kind or kind_of(spec)).open(spec, context)
