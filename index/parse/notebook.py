"""Jupyter notebooks (.ipynb): markdown cells, code cells and their text outputs.

Read as plain JSON, not validated against the nbformat schema: a notebook that is readable but
schema-invalid (an old ``heading`` cell, an unknown output type) still has its text indexed, since
what a person searches for is the text, not the schema. Images, attachments and JavaScript are left
out; HTML output counts only where no plain text is given, stripped to its text.

Locations: a part's lines are counted over the notebook read as a script (each cell's source and
then its text outputs, cells in order, one blank line between), so every line number is unique and
the passage view can show the cited lines with their neighbours. The JSON's own lines would mean
nothing to a person, and per-cell line numbers would repeat. A person finds a passage in Jupyter by
its cell, so the heading path ends with ``cell N`` (1-based, every cell counted, as shown top to bottom).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse.html import parse_html_text
from ragd.index.parse.markdown import parse_markdown, plain_inline
from ragd.index.parse.text import paragraph_parts

MAX_OUTPUT_CHARS = 20_000  # of one output: a long log says what it says in its first pages
_REPR = re.compile(r"^<[\w.]+ (?:object )?at 0x[0-9a-fA-F]+>$")  # <IPython.core.display.HTML at 0x1112757d0>
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _source(value: Any) -> str:
    """A multiline string field: a string or a list of strings (nbformat allows both)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def _html_text(html: str) -> str:
    """HTML output as text (scripts and styles dropped)."""
    doc = parse_html_text(html, with_lines=False)
    return "\n".join(p.text for p in doc.parts if p.text.strip())


def _output_text(output: Any) -> str:
    """The text a person reads in one output; images and scripts give nothing."""
    if not isinstance(output, dict):
        return ""
    kind = output.get("output_type")
    if kind == "error":
        return f"{output.get('ename', '')}: {output.get('evalue', '')}".strip(": ")
    if "text" in output:  # stream (and nbformat 3's pyout), whatever its output_type says
        text = _source(output.get("text"))
    else:
        found = output.get("data")
        data: dict[str, Any] = found if isinstance(found, dict) else output
        plain = _source(data.get("text/plain"))
        if plain and not _REPR.match(plain.strip()):
            text = plain
        elif data.get("text/markdown"):
            text = _source(data.get("text/markdown"))
        elif data.get("text/html"):
            text = _html_text(_source(data.get("text/html")))
        else:
            text = ""
    return _ANSI.sub("", text)[:MAX_OUTPUT_CHARS]


def _cells(notebook: Any) -> list[Any]:
    if not isinstance(notebook, dict):
        raise ParseError("not a Jupyter notebook (the JSON is not an object)")
    cells = notebook.get("cells")
    if cells is None and isinstance(notebook.get("worksheets"), list):  # nbformat 3
        cells = [c for ws in notebook["worksheets"] if isinstance(ws, dict) for c in ws.get("cells") or []]
    if not isinstance(cells, list):
        raise ParseError("not a Jupyter notebook (no cells)")
    return cells


def parse_notebook(data: bytes) -> Document:
    try:
        notebook = json.loads(data.decode("utf-8-sig", errors="replace"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ParseError(f"damaged notebook: not JSON ({exc})") from None
    parts: list[Part] = []
    stack: list[tuple[int, str]] = []
    first_h1: str | None = None
    line = 1  # the first line of the next cell in the notebook read as a script

    def add(text: str, kind: str) -> None:
        """``text`` as parts of the current cell, starting at ``line``."""
        nonlocal line
        if text.strip():
            here = (*(t for _, t in stack), label)
            parts.extend(Part(p.text, line_start=p.line_start, line_end=p.line_end, heading=here, kind=kind)
                         for p in paragraph_parts(text, line, kind))
        line += text.count("\n") + 2  # its lines and one blank line after

    for number, cell in enumerate(_cells(notebook), start=1):
        if not isinstance(cell, dict):
            continue
        label = f"cell {number}"
        kind = cell.get("cell_type")
        source = _source(cell.get("source", cell.get("input"))).rstrip("\n")
        if kind == "heading":  # nbformat 3 (schema-invalid in 4, still what the author meant)
            given = cell.get("level")
            level = given if isinstance(given, int) else 1
            title = plain_inline(source)
            if title:
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, title))
                first_h1 = first_h1 or (title if level == 1 else None)
                parts.append(Part(title, line_start=line, line_end=line, heading=tuple(t for _, t in stack),
                                  kind="heading"))
            line += source.count("\n") + 2
        elif kind == "markdown":
            doc = parse_markdown(source, first_line=line, stack=stack, front_matter=False)
            first_h1 = first_h1 or doc.title  # without front matter, a cell's title is its first H1
            for p in doc.parts:
                heading = p.heading if p.kind == "heading" else (*p.heading, label)
                parts.append(Part(p.text, line_start=p.line_start, line_end=p.line_end, heading=heading,
                                  kind=p.kind))
            line += source.count("\n") + 2
        elif kind in ("code", "raw"):
            add(source, "code" if kind == "code" else "text")
            for output in cell.get("outputs") or []:
                add(_output_text(output).rstrip("\n"), "output")
    meta = notebook.get("metadata") if isinstance(notebook.get("metadata"), dict) else {}
    named = meta.get("title")
    doc_title = named.strip() if isinstance(named, str) and named.strip() else None
    info: dict[str, str] = {}
    language = (meta.get("kernelspec") or {}).get("language") if isinstance(meta.get("kernelspec"), dict) else None
    if isinstance(language, str) and language:
        info["language"] = language
    return Document(parts=parts, title=doc_title or first_h1, meta=info)


class NotebookParser:
    suffixes: tuple[str, ...] = (".ipynb",)

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [parse_notebook(data)]
