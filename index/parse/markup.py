"""Light markup: Org, reStructuredText, AsciiDoc and LaTeX, without their toolchains.

Each format is read line by line into the same outline as Markdown: headings build the heading
path, source and literal blocks become ``code`` parts, everything else is blank-line separated
blocks. One output line stands for one source line, so every part keeps its exact source lines;
lines that are only markup (directives, drawers, ``\\begin{...}``) read as blank. LaTeX loses its
common commands (``\\emph{x}`` -> ``x``, ``\\ruby{漢字}{かんじ}`` -> ``漢字``, comments), since
command names in the index match nothing a person types. Anything unusual stays as source text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ragd.index.models import Document
from ragd.index.parse.encoding import decode_text_file
from ragd.index.parse.markdown import Outline

Reader = Callable[[list[str]], tuple[Outline, str | None]]

# ------------------------------------------------------------------------------------------------- Org

_ORG_HEADLINE = re.compile(r"^(\*+)\s+(.*?)\s*$")
_ORG_TODO = re.compile(r"^(?:TODO|DONE|NEXT|WAITING|HOLD|CANCELL?ED|STARTED|SOMEDAY|PROJ|KILL)\s+")
_ORG_PRIORITY = re.compile(r"^\[#[A-Za-z0-9]\]\s*")
_ORG_TAGS = re.compile(r"\s+:[\w@#%:]+:\s*$")
_ORG_BLOCK = re.compile(r"^\s*#\+begin_(\w+)", re.IGNORECASE)
_ORG_KEYWORD = re.compile(r"^\s*#\+(\w+):\s*(.*)$")
_ORG_DRAWER = re.compile(r"^\s*:(PROPERTIES|LOGBOOK|[A-Z]+):\s*$")
_ORG_LINK = re.compile(r"\[\[([^\[\]]+)\](?:\[([^\[\]]*)\])?\]")


def _org_inline(line: str) -> str:
    return _ORG_LINK.sub(lambda m: m.group(2) or m.group(1), line)


def _org_title(text: str) -> str:
    text = _ORG_TAGS.sub("", _ORG_PRIORITY.sub("", _ORG_TODO.sub("", text)))
    return " ".join(_org_inline(text).split())


def read_org(lines: list[str]) -> tuple[Outline, str | None]:
    b = Outline()
    title: str | None = None
    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        headline = _ORG_HEADLINE.match(line)
        block = _ORG_BLOCK.match(line)
        keyword = _ORG_KEYWORD.match(line)
        if headline:
            b.heading(len(headline.group(1)), _org_title(headline.group(2)), number, number)
        elif block:
            name = block.group(1).lower()
            end = i + 1
            closing = f"#+end_{name}"
            while end < len(lines) and not lines[end].strip().lower().startswith(closing):
                end += 1
            if name in ("src", "example", "export"):
                b.code(lines[i + 1 : end], number + 1)
            else:  # quote, verse, center ...: prose between marker lines
                b.flush()
                for offset, inner in enumerate(lines[i + 1 : end], start=i + 2):
                    if inner.strip():
                        b.add_line(offset, _org_inline(inner))
                    else:
                        b.flush()
                b.flush()
            i = end + 1
            continue
        elif keyword:
            b.flush()
            if keyword.group(1).lower() == "title" and keyword.group(2).strip():
                title = title or _org_inline(keyword.group(2).strip())
        elif _ORG_DRAWER.match(line) and line.strip().upper() != ":END:":
            b.flush()
            end = i + 1
            while end < len(lines) and lines[end].strip().upper() != ":END:" and end - i < 500:
                end += 1
            i = end + 1
            continue
        elif not line.strip() or line.lstrip().startswith("# ") or line.strip() == "#":
            b.flush()  # blank or a comment line
        else:
            b.add_line(number, _org_inline(line))
        i += 1
    return b, title


# ------------------------------------------------------------------------------------------------- RST

_RST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.!$%&,;?@\\/|])\1{2,}\s*$")
_RST_CODE = re.compile(r"^\.\.\s+(code-block|code|sourcecode|highlight|literalinclude)::")
_RST_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")
_RST_COMMENT = re.compile(r"^\.\.(\s|$)")
_RST_ROLE = re.compile(r":[\w:-]+:`([^`]*)`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`__?")


def _rst_inline(line: str) -> str:
    return _RST_LINK.sub(r"\1", _RST_ROLE.sub(r"\1", line))


def _indented_end(lines: list[str], start: int) -> int:
    """The index after the indented block that starts at or after ``start`` (blank lines inside it kept)."""
    end = start
    last = start
    while end < len(lines) and (not lines[end].strip() or lines[end][:1] in (" ", "\t")):
        if lines[end].strip():
            last = end + 1
        end += 1
    return last


def read_rst(lines: list[str]) -> tuple[Outline, str | None]:
    b = Outline()
    styles: list[tuple[str, bool]] = []  # adornment styles in order of first use: their level
    title: str | None = None
    i = 0
    literal_next = False
    while i < len(lines):
        line, number = lines[i], i + 1
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        after = lines[i + 2] if i + 2 < len(lines) else ""
        over = _RST_ADORNMENT.match(line)
        text_ok = bool(line.strip()) and not line[:1].isspace() and not _RST_ADORNMENT.match(line)
        if over and nxt.strip() and not _RST_ADORNMENT.match(nxt) and after.strip().startswith(line.strip()[0] * 3) \
                and _RST_ADORNMENT.match(after) and not b.block:
            style, heading, span = (line.strip()[0], True), nxt.strip(), (number, number + 2)
        elif text_ok and _RST_ADORNMENT.match(nxt) and not b.block and len(nxt.strip()) >= min(3, len(line.strip())):
            style, heading, span = (nxt.strip()[0], False), line.strip(), (number, number + 1)
        else:
            style = None
        if style is not None:
            if style not in styles:
                styles.append(style)
            level = styles.index(style) + 1
            title_text = " ".join(_rst_inline(heading).split())
            title = title or (title_text if level == 1 else None)
            b.heading(level, title_text, *span)
            i = span[1]
            literal_next = False
            continue
        if _RST_CODE.match(line) or (literal_next and line[:1] in (" ", "\t")):
            b.flush()
            start = i + 1 if _RST_CODE.match(line) else i
            while start < len(lines) and lines[start].strip().startswith(":") and _RST_CODE.match(line):
                start += 1  # the directive's options
            end = _indented_end(lines, start)
            body = lines[start:end]
            while body and not body[0].strip():
                body, start = body[1:], start + 1
            b.code(body, start + 1)
            i = max(end, i + 1)
            literal_next = False
            continue
        if not line.strip() or line.strip() == "::":  # a lone "::" only announces a literal block
            b.flush()
        elif _RST_DIRECTIVE.match(line) or (_RST_COMMENT.match(line) and not _RST_DIRECTIVE.match(line)
                                            and "[" not in line[:5] and "_" not in line[:4]):
            b.flush()
            if not _RST_DIRECTIVE.match(line):  # a comment, with its indented body
                i = max(_indented_end(lines, i + 1), i + 1)
                continue
        elif _RST_ADORNMENT.match(line):
            b.flush()  # a transition
        else:
            b.add_line(number, _rst_inline(line))
        if line.strip():
            literal_next = line.rstrip().endswith("::")
        i += 1
    return b, title


# ------------------------------------------------------------------------------------------------ AsciiDoc

_ADOC_HEADING = re.compile(r"^(={1,6})\s+(\S.*?)\s*(?:=+)?\s*$")
_ADOC_ATTRIBUTE = re.compile(r"^:(!?[\w][\w-]*!?):(?:\s+(.*))?$")
_ADOC_CONDITIONAL = re.compile(r"^(?:ifn?def|ifeval|endif)::[^\[]*\[.*\]\s*$")
_ADOC_BLOCK_ATTRS = re.compile(r"^\[[^\]]*\]\s*$")
_ADOC_CODE_DELIMS = ("----", "....", "++++")
_ADOC_OTHER_DELIMS = re.compile(r"^(?:={4,}|\*{4,}|_{4,}|-{2}|\|={3,}|!={3,})\s*$")
_ADOC_MACRO = re.compile(r"^(?:image|include|video|audio|toc)::\S*\[[^\]]*\]\s*$")
_ADOC_REF = re.compile(r"\{([\w-]+)\}")
_ADOC_LINK = re.compile(r"(?:https?://[^\s\[]+|link:[^\s\[]+|mailto:[^\s\[]+|xref:[^\s\[]+)\[([^\]]*)\]")


def read_adoc(lines: list[str]) -> tuple[Outline, str | None]:
    b = Outline()
    title: str | None = None
    attributes: dict[str, str] = {}

    def refs(text: str) -> str:
        return _ADOC_REF.sub(lambda m: attributes.get(m.group(1), m.group(0)), text)

    def inline(text: str) -> str:
        text = refs(text)
        return _ADOC_LINK.sub(lambda m: m.group(1) or m.group(0).partition("[")[0], text)

    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        stripped = line.strip()
        heading = _ADOC_HEADING.match(line)
        attribute = _ADOC_ATTRIBUTE.match(line)
        if stripped in _ADOC_CODE_DELIMS or re.fullmatch(r"(-{4,}|\.{4,}|\+{4,})", stripped):
            end = i + 1
            while end < len(lines) and lines[end].strip() != stripped:
                end += 1
            if stripped.startswith("+"):
                b.flush()  # passthrough: raw output markup
            else:
                b.code(lines[i + 1 : end], number + 1)
            i = end + 1
            continue
        if stripped.startswith("////") and set(stripped) == {"/"}:
            b.flush()
            end = i + 1
            while end < len(lines) and lines[end].strip() != stripped:
                end += 1
            i = end + 1
            continue
        if heading:
            level = len(heading.group(1))
            text = " ".join(inline(heading.group(2)).split())
            if level == 1:
                title = title or text
            b.heading(level, text, number, number)
        elif attribute:
            b.flush()
            if attribute.group(2) and not attribute.group(1).startswith("!"):
                attributes[attribute.group(1)] = refs(attribute.group(2).strip())[:1000]
        elif not stripped or (stripped.startswith("//") and not stripped.startswith("///")) \
                or _ADOC_CONDITIONAL.match(stripped) or _ADOC_BLOCK_ATTRS.match(stripped) \
                or _ADOC_OTHER_DELIMS.match(stripped) or _ADOC_MACRO.match(stripped):
            b.flush()
        else:
            b.add_line(number, inline(line))
        i += 1
    return b, title


# ------------------------------------------------------------------------------------------------- LaTeX

_TEX_SECTIONS = {"part": 1, "chapter": 2, "section": 3, "subsection": 4, "subsubsection": 5, "paragraph": 6,
                 "subparagraph": 7}
_TEX_SECTION = re.compile(r"^\s*\\(part|chapter|section|subsection|subsubsection|paragraph|subparagraph)\*?"
                          r"\s*(?:\[[^\]]*\])?\s*\{(.*)\}\s*(.*)$")
_TEX_VERBATIM = re.compile(r"^\s*\\begin\s*\{(verbatim|Verbatim|lstlisting|minted|alltt|code|comment)\*?\}")
_TEX_COMMENT = re.compile(r"(?<!\\)%.*$")
_TEX_ENV_LINE = re.compile(r"^\s*(?:\\(?:begin|end)\s*\{[^{}]*\}(?:\[[^\]]*\]|\{[^{}]*\})*\s*)+$")
_TEX_DROP = re.compile(r"\\(?:label|ref|eqref|pageref|cite[tp]?|nocite|index|includegraphics|input|include|"
                       r"vspace|hspace|bibliography|bibliographystyle|usepackage|documentclass|setlength|"
                       r"newcommand|renewcommand|pagestyle|thispagestyle|hypersetup|graphicspath)\*?"
                       r"(?:\[[^\]]*\])*(?:\{[^{}]*\})?")
_TEX_ENV = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}(?:\[[^\]]*\])?")
_TEX_DROP2 = re.compile(r"\\(?:rule|setcounter|addtocounter)(?:\[[^\]]*\])?\{[^{}]*\}\{[^{}]*\}")
_TEX_FIRST_OF_TWO = re.compile(r"\\(?:ruby|kenten)\{([^{}]*)\}\{[^{}]*\}")
_TEX_SECOND_OF_TWO = re.compile(r"\\(?:href|texorpdfstring)\{[^{}]*\}\{([^{}]*)\}")
_TEX_WORDS = {"textgreater": ">", "textless": "<", "ldots": "…", "dots": "…", "textbackslash": "\\",
              "LaTeX": "LaTeX", "TeX": "TeX", "textasciitilde": "~", "textasciicircum": "^", "textbar": "|",
              "S": "§", "P": "¶", "copyright": "©", "ss": "ß", "item": "•", "and": "and", "quad": " ",
              "qquad": " ", "newline": " ", "linebreak": " ", "par": " "}
_TEX_ESCAPE = re.compile(r"\\([&%$#_{}~^ ,;!])")
_TEX_COMMAND = re.compile(r"\\([A-Za-z]+)\*?(?:\[[^\]]*\])?\s?")
_TEX_ACCENT = re.compile(r"\\[`'^\"~=.]\{?([A-Za-z])\}?")


def tex_inline(line: str) -> str:
    """One line of LaTeX as the words it typesets (a light approximation; math is kept as written)."""
    line = _TEX_COMMENT.sub("", line)
    if "\\" not in line and "{" not in line:
        return line.replace("~", "\u00a0")
    escapes: list[str] = []

    def keep(match: re.Match[str]) -> str:
        escapes.append(match.group(1) if match.group(1) not in " ,;!" else " ")
        return f"\x00{len(escapes) - 1}\x00"

    line = _TEX_ESCAPE.sub(keep, line.replace("\\\\", " "))
    line = _TEX_ENV.sub("", _TEX_ACCENT.sub(r"\1", line))
    for _ in range(8):  # innermost groups first, until nothing changes
        before = line
        line = _TEX_DROP2.sub("", _TEX_DROP.sub("", line))
        line = _TEX_SECOND_OF_TWO.sub(r"\1", _TEX_FIRST_OF_TWO.sub(r"\1", line))
        if line == before:
            break
    line = _TEX_COMMAND.sub(lambda m: _TEX_WORDS.get(m.group(1), ""), line)
    line = line.replace("{", "").replace("}", "").replace("~", "\u00a0")
    return re.sub(r"\x00(\d+)\x00", lambda m: escapes[int(m.group(1))], line)


def read_tex(lines: list[str]) -> tuple[Outline, str | None]:
    b = Outline()
    title: str | None = None
    begin = next((n for n, line in enumerate(lines) if re.match(r"^\s*\\begin\s*\{document\}", line)), None)
    for line in lines[: begin or 0]:  # the preamble: only its \title
        found = re.match(r"^\s*\\title\s*(?:\[[^\]]*\])?\{(.*)\}\s*$", _TEX_COMMENT.sub("", line))
        if found:
            title = " ".join(tex_inline(found.group(1)).split()) or None
    i = begin + 1 if begin is not None else 0
    while i < len(lines):
        line, number = lines[i], i + 1
        section = _TEX_SECTION.match(_TEX_COMMENT.sub("", line))
        verbatim = _TEX_VERBATIM.match(line)
        if section:
            text = " ".join(tex_inline(section.group(2)).split())
            b.heading(_TEX_SECTIONS[section.group(1)], text, number, number)
            rest = tex_inline(section.group(3)).strip()
            if rest:
                b.add_line(number, rest)
        elif verbatim:
            env = verbatim.group(1)
            end = i + 1
            while end < len(lines) and not re.match(rf"^\s*\\end\s*\{{{env}\*?\}}", lines[end]):
                end += 1
            if env == "comment":
                b.flush()
            else:
                b.code(lines[i + 1 : end], number + 1)
            i = end + 1
            continue
        elif re.match(r"^\s*\\end\s*\{document\}", line):
            break
        elif _TEX_ENV_LINE.match(_TEX_COMMENT.sub("", line)) or not line.strip():
            b.flush()
        else:
            text = tex_inline(line)
            if text.strip():
                b.add_line(number, text.rstrip())
            elif not _TEX_COMMENT.sub("", line).strip():
                b.add_line(number, "")  # a comment line inside a paragraph: it goes on, one line per source line
            else:
                b.flush()
        i += 1
    return b, title


# -------------------------------------------------------------------------------------------------

_READERS: dict[str, Reader] = {".org": read_org, ".rst": read_rst, ".rest": read_rst, ".adoc": read_adoc,
                               ".asciidoc": read_adoc, ".tex": read_tex, ".latex": read_tex,
                               ".ltx": read_tex}


def parse_markup(text: str, suffix: str) -> Document:
    builder, title = _READERS[suffix](text.split("\n"))
    builder.flush()
    first = next((p.text for p in builder.parts if p.kind == "heading"), None)
    return Document(parts=builder.parts, title=title or builder.first_h1 or first)


class MarkupParser:
    """Org, reStructuredText, AsciiDoc and LaTeX source."""

    suffixes: tuple[str, ...] = tuple(_READERS)

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [parse_markup(decode_text_file(data), path.suffix.lower())]
