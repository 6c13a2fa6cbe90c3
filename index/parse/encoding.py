"""Bytes to text: BOMs, UTF-16 without BOM, UTF-8, a declared charset, then detection.

Newlines are normalised to ``\\n`` with the same line breaks Python's universal
newlines recognise (``\\r\\n``, ``\\r``, ``\\n``), so line N of the result is line N
of the source as an editor shows it.
"""

from __future__ import annotations

import codecs
import re
from itertools import pairwise

from ragd.index.errors import ParseError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ISO2022_ESCAPES = (b"\x1b$B", b"\x1b$@", b"\x1b(J", b"\x1b$(D", b"\x1b$)C")
# When detection finds several equally good candidates, the commoner encoding wins.
_PREFERRED = ("cp1252", "cp1251", "cp866", "cp932", "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr",
              "cp1256", "cp1250", "koi8_r", "cp500", "cp037")
_ALIASES = {"unicode": "utf-16", "x-sjis": "shift_jis", "windows-31j": "cp932", "x-euc-jp": "euc_jp"}
_NEWLINES = re.compile(r"\r\n?")
_DETECT_SAMPLE = 256 << 10


_C1 = re.compile("[\x80-\x9f]")
# C1 control characters in decoded text are Windows-1252 punctuation that went through a
# Latin-1 conversion (™ ’ — …); read them as such, as browsers do.
_C1_AS_CP1252 = {i: bytes([i]).decode("cp1252", errors="ignore") or chr(i) for i in range(0x80, 0xA0)}


def normalize_newlines(text: str) -> str:
    """Newlines to ``\\n`` (and stray C1 controls to the punctuation they stand for)."""
    if _C1.search(text):
        text = text.translate(_C1_AS_CP1252)
    return _NEWLINES.sub("\n", text) if "\r" in text else text


def codec_name(label: str | None) -> str | None:
    """The Python codec for a charset label from a document, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _bom(data: bytes) -> tuple[str, int] | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return None


def sniff_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: mostly-ASCII text leaves NULs in every other byte."""
    sample = data[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    sample = sample[: len(sample) // 2 * 2]
    even, odd = sample[0::2], sample[1::2]
    even_nuls, odd_nuls = even.count(0), odd.count(0)
    half = len(even)
    if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
        name = "utf-16-le"
    elif even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
        name = "utf-16-be"
    else:
        return None
    try:
        data[: len(data) // 2 * 2].decode(name)
    except UnicodeDecodeError:
        return None
    return name


def _detect(data: bytes, declared: str | None) -> str | None:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data[:_DETECT_SAMPLE]))
    if not matches:
        return None
    best = matches[0]
    tied = [m for m in matches if m.chaos <= best.chaos + 0.01 and m.coherence >= best.coherence - 0.01]
    names = [codec_name(c) for m in tied for c in m.could_be_from_charset]
    if declared and declared in names:
        return declared
    for preferred in _PREFERRED:
        if codec_name(preferred) in names:
            return codec_name(preferred)
    return codec_name(best.encoding)


# Greek and Cyrillic code pages put letters on the same bytes, and on a short sample charset_normalizer
# takes a first "definitive" Cyrillic match for Greek (and never tries Greek). Words read in the wrong
# alphabet have almost no vowels, or mixed case inside words, or symbols among the letters.
_ALPHABET_CODECS = ("cp1251", "cp1253", "iso8859_7", "koi8_r", "iso8859_5", "cp866")
_VOWELS = frozenset("аеёиоуыэюяіїєАЕЁИОУЫЭЮЯІЇЄαεηιουωάέήίόύώϊϋΐΰΑΕΗΙΟΥΩΆΈΉΊΌΎΏ")
_WORD = re.compile(r"[^\W\d_]+")


def _vowel_ratio(text: str) -> float | None:
    """Vowels among the non-ASCII characters (None: too few to judge)."""
    chars = [ch for ch in text if not ch.isascii() and not ch.isspace()]
    return sum(ch in _VOWELS for ch in chars) / len(chars) if len(chars) >= 8 else None


def _plausible(text: str) -> bool:
    chars = [ch for ch in text if not ch.isascii() and not ch.isspace()]
    if len(chars) < 8 or sum(ch.isalpha() for ch in chars) < 0.98 * len(chars):
        return False
    words = _WORD.findall(text)
    mixed = sum(1 for w in words for a, b in pairwise(w) if a.islower() and b.isupper())
    ratio = _vowel_ratio(text) or 0.0
    return 0.3 <= ratio <= 0.65 and mixed <= len(words) // 20


def _vowel_check(data: bytes, name: str) -> str:
    """``name``, or the first Greek or Cyrillic code page that reads ``data`` as words where ``name`` does not."""
    if codec_name(name) not in {codec_name(c) for c in _ALPHABET_CODECS}:
        return name
    sample = data[:_DETECT_SAMPLE]
    ratio = _vowel_ratio(sample.decode(name, errors="replace"))
    if ratio is None or ratio >= 0.25:
        return name
    for other in _ALPHABET_CODECS:
        if _plausible(sample.decode(other, errors="replace")):
            return codec_name(other) or name
    return name


def decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data`` to text with normalised newlines; return (text, codec name).

    ``declared`` is a charset label found in the document itself (HTML meta, XML
    prolog). It is trusted only where the bytes agree with it: valid UTF-8 wins over
    a declared legacy charset, and a declared charset that detection rules out loses.
    """
    if not data:
        return "", "utf-8"
    found = _bom(data)
    if found:
        name, skip = found
        return normalize_newlines(data[skip:].decode(name, errors="replace")), name
    name16 = sniff_utf16(data)
    if name16:
        return normalize_newlines(data.decode(name16, errors="replace")), name16
    if any(esc in data for esc in _ISO2022_ESCAPES) and data.isascii():
        try:
            return normalize_newlines(data.decode("iso2022_jp_2")), "iso2022_jp_2"
        except UnicodeDecodeError:
            pass
    try:
        return normalize_newlines(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return normalize_newlines(data.decode("utf-8", errors="replace")), "utf-8"  # truncated file
    declared_codec = codec_name(declared)
    if declared_codec in ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        declared_codec = None  # already ruled out above
    name = _detect(data, declared_codec) or declared_codec or "cp1252"
    name = _vowel_check(data, name)
    return normalize_newlines(data.decode(name, errors="replace")), name


def decode_text_file(data: bytes) -> str:
    """Decode a file that should be text; refuse binary content."""
    text, _ = decode(data)
    sample = text[:65536]
    if sample.count("\x00") > 0 or _control_ratio(sample) > 0.1:
        raise ParseError("not a text file (binary content)")
    return text


def _control_ratio(sample: str) -> float:
    if not sample:
        return 0.0
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\t\f\v\x1b")
    return bad / len(sample)
