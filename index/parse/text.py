"""Plain text and source code: one part per blank-line separated block, with exact line spans."""

from __future__ import annotations

from pathlib import Path

from ragd.index.models import Document, Part
from ragd.index.parse.encoding import decode_text_file

MAX_BLOCK_LINES = 200  # a block longer than this (a long function) is cut into pieces

PROSE_SUFFIXES = (".txt", ".text", ".log", ".srt", ".vtt", ".bib", ".me", ".nfo")  # markup: parse.markup; csv: sheets
CODE_SUFFIXES = (
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".rs", ".c", ".h", ".cc", ".cpp",
    ".cxx", ".hpp", ".hh", ".java", ".kt", ".kts", ".scala", ".swift", ".m", ".mm", ".cs", ".fs", ".rb",
    ".php", ".pl", ".pm", ".lua", ".r", ".jl", ".dart", ".ex", ".exs", ".erl", ".hs", ".ml", ".mli",
    ".clj", ".el", ".lisp", ".scm", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".cmd", ".sql",
    ".vim", ".zig", ".nim", ".v", ".sv", ".vhd", ".proto", ".graphql", ".gql", ".css", ".scss", ".sass",
    ".less", ".vue", ".svelte", ".toml", ".yaml", ".yml", ".json", ".jsonl", ".ini", ".cfg", ".conf",
    ".properties", ".env", ".xml", ".xsd", ".xsl", ".gradle", ".cmake", ".mk", ".make",
    ".dockerfile", ".tf", ".hcl", ".nix", ".patch", ".diff",
)


def paragraph_parts(text: str, first_line: int = 1, kind: str = "text",
                    heading: tuple[str, ...] = ()) -> list[Part]:
    """Split ``text`` into blank-line separated blocks; line ``first_line`` is the first line of ``text``.

    Each part's text is the block's lines joined by ``\\n`` (so line ``i`` of the part is
    source line ``line_start + i``); trailing whitespace of lines is kept as is.
    """
    parts: list[Part] = []
    block: list[str] = []
    start = first_line

    def flush(end: int) -> None:
        if block:
            parts.append(Part("\n".join(block), line_start=start, line_end=end, heading=heading, kind=kind))
            block.clear()

    for offset, line in enumerate(text.split("\n")):
        number = first_line + offset
        if not line.strip():
            flush(number - 1)
            continue
        if not block:
            start = number
        elif len(block) >= MAX_BLOCK_LINES:
            flush(number - 1)
            start = number
        block.append(line)
    flush(first_line + text.count("\n"))
    return parts


class TextParser:
    """Plain text and source code in any common encoding."""

    suffixes: tuple[str, ...] = PROSE_SUFFIXES + CODE_SUFFIXES

    def parse(self, path: Path, data: bytes) -> list[Document]:
        text = decode_text_file(data)
        kind = "code" if path.suffix.lower() in CODE_SUFFIXES else "text"
        return [Document(parts=paragraph_parts(text, kind=kind))]
