"""E-mail: ``.eml`` (one document) and ``.mbox`` (one document per message, key = its 0-based index).

Subject, sender, recipients and date go to ``meta``; the title is the subject. The
body is the text/plain alternative, else the HTML one converted to text; attachments
are listed in ``meta`` but not parsed. Where a body is stored verbatim (single part,
7bit/8bit) its parts carry the line numbers of the file; otherwise lines are None.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from pathlib import Path

from ragd.index.models import Document, Part
from ragd.index.parse.encoding import codec_name, decode, normalize_newlines
from ragd.index.parse.html import html_to_text
from ragd.index.parse.text import paragraph_parts

_FROM_LINE = re.compile(rb"^From \S*.*\b\d{4}\b")
_QUOTED_FROM = re.compile(r"^>(>*From )", re.MULTILINE)
_VERBATIM = ("", "7bit", "8bit", "binary")
MAX_MESSAGES = 100_000


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # malformed header the policy cannot parse
        value = msg.get_all(name, failobj=[""])[0] if hasattr(msg, "get_all") else ""
    return " ".join(str(value).split()) if value is not None else ""


def _date(raw: str) -> str:
    if not raw:
        return ""
    try:
        return parsedate_to_datetime(raw).isoformat()
    except (TypeError, ValueError, IndexError):
        return raw


def _payload_text(part: Message) -> str:
    """A text part's content as str, whatever its declared charset and transfer encoding."""
    if isinstance(part, EmailMessage):
        try:
            content = part.get_content()
            if isinstance(content, str):
                return normalize_newlines(content)
        except (LookupError, ValueError, AssertionError, UnicodeError, KeyError):
            pass
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    return decode(raw, part.get_content_charset())[0]


def _body(msg: EmailMessage) -> tuple[str, Message | None]:
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        body = None
    if body is None:
        return "", None
    if body.get_content_subtype() == "html":
        raw = body.get_payload(decode=True)
        return (html_to_text(raw, body.get_content_charset()) if isinstance(raw, bytes) else ""), body
    return _QUOTED_FROM.sub(r"\1", _payload_text(body)), body


def _attachments(msg: EmailMessage) -> list[str]:
    names = []
    try:
        for part in msg.iter_attachments():
            names.append(part.get_filename() or part.get_content_type())
    except Exception:
        pass
    return names


def message_document(raw: bytes, key: str = "", first_line: int | None = 1) -> Document:
    """One message; ``first_line`` is the file line of its first header line (None: no lines)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    subject = _header(msg, "subject")
    meta = {"subject": subject, "sender": _header(msg, "from"), "to": _header(msg, "to"),
            "date": _date(_header(msg, "date")), "message_id": _header(msg, "message-id")}
    attachments = _attachments(msg)
    if attachments:
        meta["attachments"] = ", ".join(attachments)
    text, body = _body(msg)
    verbatim = (body is msg and first_line is not None and not msg.is_multipart()
                and msg.get_content_subtype() == "plain"
                and _header(msg, "content-transfer-encoding").lower() in _VERBATIM)
    if verbatim and first_line is not None:
        parts = _verbatim_parts(raw, msg, first_line)
    else:
        parts = [dataclasses.replace(p, line_start=None, line_end=None) for p in paragraph_parts(text)]
    return Document(parts=parts, title=subject or None, key=key, meta={k: v for k, v in meta.items() if v})


def _verbatim_parts(raw: bytes, msg: Message, first_line: int) -> list[Part]:
    """Body parts numbered by file line: the body starts after the first empty line."""
    lines = raw.split(b"\n")
    blank = next((i for i, line in enumerate(lines) if not line.strip(b"\r")), len(lines))
    body = b"\n".join(lines[blank + 1 :])
    charset = codec_name(msg.get_content_charset()) if msg.get_content_charset() else None
    text = normalize_newlines(body.decode(charset, errors="replace")) if charset else decode(body)[0]
    return paragraph_parts(_QUOTED_FROM.sub(r"\1", text), first_line=first_line + blank + 1)


def split_mbox(data: bytes) -> list[tuple[int, bytes]]:
    """(file line of the message's first header line, message bytes without the From_ line)."""
    lines = data.split(b"\n")
    starts = [i for i, line in enumerate(lines) if line.startswith(b"From ")
              and (i == 0 or not lines[i - 1].strip(b"\r") or _FROM_LINE.match(line))]
    messages = []
    for n, start in enumerate(starts[:MAX_MESSAGES]):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        body = lines[start + 1 : end]
        while body and not body[-1].strip(b"\r"):
            body.pop()  # the empty line that separates messages
        messages.append((start + 2, b"\n".join(body)))
    return messages


class EmlParser:
    suffixes: tuple[str, ...] = (".eml",)

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [message_document(data)]


class MboxParser:
    suffixes: tuple[str, ...] = (".mbox", ".mbx")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        messages = split_mbox(data)
        if not messages and data.strip():
            return [message_document(data, key="0")]  # a single message without a From_ line
        return [message_document(raw, key=str(i), first_line=line) for i, (line, raw) in enumerate(messages)]
