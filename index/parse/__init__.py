"""Document parsers by file type, behind one small Protocol and a registry.

Parsers are found through the ``ragd.parsers`` entry points (``ragd.index.plugins``): ragd's own are
declared in its ``pyproject.toml`` exactly as an extension declares its own, and an extension's parser wins
for the suffixes it claims. :func:`register` adds one in this process. Parser modules import their heavy
libraries lazily, so :func:`is_supported` is cheap.

Policy shared by all parsers: a file whose text cannot be read raises
:class:`ParseError` with a reason a user can act on (encrypted, image-only,
refused bomb ...); a file that is readable but holds no text yields documents
without parts. Parsing untrusted files should go through
:class:`ragd.index.isolate.ParsePool`, which bounds time and memory.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from ragd.index.errors import ParseError, UnsupportedFormat
from ragd.index.models import Document
from ragd.index.plugins import PARSERS, Registry

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 << 20  # no parser is handed more than this

__all__ = [
    "MAX_FILE_BYTES",
    "ParseError",
    "Parser",
    "UnsupportedFormat",
    "is_supported",
    "parse_bytes",
    "parse_file",
    "parser_for",
    "register",
    "registered_suffixes",
]


@runtime_checkable
class Parser(Protocol):
    """Turns the bytes of one file into documents."""

    suffixes: tuple[str, ...]  # lower-case, with the dot: (".md", ".markdown")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        """Parse ``data`` (the content of ``path``); raise ParseError with a reason on failure."""
        ...


def _made(obj: object) -> Parser:
    """An entry point names a parser class (made with no arguments) or a parser object."""
    parser = obj() if isinstance(obj, type) else obj
    if not isinstance(parser, Parser):
        raise TypeError(f"{obj!r} is not a parser (it needs `suffixes` and `parse(path, data)`)")
    return parser


PARSER_REGISTRY: Registry[Parser] = Registry(PARSERS, "parser", _made)
_registry: dict[str, Parser] = {}
_lock = threading.RLock()
_builtins_loaded = False


def _load_builtins() -> None:
    """Every installed parser, ragd's own first (so that an extension's claims its suffixes)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    with _lock:
        if _builtins_loaded:
            return
        for name, parser in PARSER_REGISTRY.all().items():
            try:
                _add(parser)
            except ValueError as exc:
                log.warning("the parser %r is left out: %s", name, exc)
        _builtins_loaded = True


def register(parser: Parser) -> None:
    """Make ``parser`` handle its suffixes (replacing any earlier parser for them)."""
    _load_builtins()
    _add(parser)


def _add(parser: Parser) -> None:
    if not parser.suffixes:
        raise ValueError(f"{type(parser).__name__} declares no suffixes")
    with _lock:
        for suffix in parser.suffixes:
            if not suffix.startswith(".") or suffix != suffix.lower():
                raise ValueError(f"suffix must be lower-case and start with a dot: {suffix!r}")
            _registry[suffix] = parser


def parser_for(path: Path) -> Parser | None:
    """The parser for ``path`` by its suffix, or None."""
    _load_builtins()
    return _registry.get(path.suffix.lower())


def is_supported(path: Path) -> bool:
    return parser_for(path) is not None


def registered_suffixes() -> list[str]:
    _load_builtins()
    return sorted(_registry)


def parse_bytes(path: Path, data: bytes) -> list[Document]:
    """Parse ``data`` as the content of ``path``.

    Raises UnsupportedFormat when no parser handles the suffix and ParseError with a
    short reason for anything else that goes wrong inside a parser or its libraries.
    MemoryError is let through for the caller (the worker process) to report.
    """
    parser = parser_for(path)
    if parser is None:
        raise UnsupportedFormat(f"unsupported file type: {path.suffix or '(no suffix)'}")
    try:
        return parser.parse(path, data)
    except (ParseError, MemoryError):
        raise
    except RecursionError:
        raise ParseError("refused: structure nested too deeply") from None
    except Exception as exc:  # third-party libraries raise anything on malformed input
        log.debug("parser %s failed on %s", type(parser).__name__, path, exc_info=True)
        raise ParseError(f"cannot parse: {type(exc).__name__}: {_short(str(exc))}") from exc


def parse_file(path: Path) -> list[Document]:
    """Read and parse one file (in this process; see ``isolate.ParsePool`` for untrusted input)."""
    if parser_for(path) is None:
        raise UnsupportedFormat(f"unsupported file type: {path.suffix or '(no suffix)'}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ParseError(f"refused: file too large ({size >> 20} MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror or exc}") from exc
    return parse_bytes(path, data)


def _short(message: str, limit: int = 200) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"
