"""ODT, RTF, notebooks and light markup (Org, reST, AsciiDoc, LaTeX) on the real files in docs_more/text.

The expected strings are the ones each source project's own tests look for (see docs_more/manifest.csv).
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from pathlib import Path

import pytest

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse import parse_bytes, parse_file
from ragd.index.parse.markup import tex_inline


@pytest.fixture(scope="module")
def text_dir(shared_data: Path) -> Path:
    folder = shared_data / "docs_more" / "text"
    if not folder.is_dir():
        pytest.skip("docs_more/text not found")
    return folder


def one(path: Path) -> Document:
    docs = parse_file(path)
    assert len(docs) == 1
    return docs[0]


def body(doc: Document) -> list[Part]:
    return [p for p in doc.parts if p.kind != "heading"]


def all_text(doc: Document) -> str:
    return "\n".join(p.text for p in doc.parts)


# --- ODT ------------------------------------------------------------------------------------------


def test_odt_tracked_changes_read_as_the_document_now_says(text_dir: Path) -> None:
    doc = one(text_dir / "pandoc__trackedChanges.odt")
    assert [p.text for p in body(doc)] == ["Some text with and inserted text."]
    assert "deleted" not in all_text(doc)
    assert doc.meta["author"] == "Martin Linnemann"
    assert all(p.line_start is None for p in doc.parts)  # like DOCX: no lines before layout


def test_odt_neooffice_sample(text_dir: Path) -> None:
    doc = one(text_dir / "tika__testOpenOffice2.odt")
    assert "This is a sample Open Office document, written in NeoOffice 2.2.1 for the Mac." in all_text(doc)
    assert doc.meta["language"] == "en-US"


def _odt(content: str, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", content)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


ODT_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"')


def test_odt_headings_tables_notes_and_no_entities() -> None:
    content = f"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>
<office:document-content {ODT_NS}><office:body><office:text>
<text:h text:outline-level="1">Plan</text:h>
<text:p>Intro &ext; text<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation>
<text:note-body><text:p>A footnote.</text:p></text:note-body></text:note>.</text:p>
<text:h text:outline-level="2">Costs</text:h>
<table:table><table:table-row><table:table-cell><text:p>Rent</text:p></table:table-cell>
<table:table-cell><text:p>900</text:p></table:table-cell></table:table-row></table:table>
</office:text></office:body></office:document-content>"""
    doc = parse_bytes(Path("plan.odt"), _odt(content))
    parts = [(p.kind, p.text, p.heading) for p in doc[0].parts]
    assert parts == [("heading", "Plan", ("Plan",)), ("text", "Intro text.", ("Plan",)),
                     ("heading", "Costs", ("Plan", "Costs")), ("table", "Rent | 900", ("Plan", "Costs")),
                     ("footnote", "A footnote.", ("Footnotes",))]
    assert "root:" not in all_text(doc[0])
    assert doc[0].title == "Plan"


def test_odt_zip_bomb_is_refused_before_inflating() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("content.xml", b"<a/>" + b" " * (300 << 20))
    with pytest.raises(ParseError, match="zip bomb"):
        parse_bytes(Path("bomb.odt"), buf.getvalue())


# --- RTF ------------------------------------------------------------------------------------------


def test_rtf_code_page_932(text_dir: Path) -> None:
    doc = one(text_dir / "tika__testRTF-ms932.rtf")
    assert "こんにちは" in all_text(doc) and "テスト" in all_text(doc)
    assert doc.title == "タイトル"


def test_rtf_footnote_header_text_box_caption_and_citation(text_dir: Path) -> None:
    doc = one(text_dir / "tika__testRTFVarious.rtf")
    text = all_text(doc)
    for expected in ("This is a footnote.", "This is the header text.", "This is the footer text.",
                     "Figure 1 This is a caption for Figure 1", "(Kramer)", "Here is a text box",
                     "ゾルゲと尾崎、淡々と最期", "\U00010332\U0001033f\U00010344\U00010339\U00010343\U0001033a"):
        assert expected in text, expected
    assert "Row 1 Col 1 | Row 1 Col 2 | Row 1 Col 3" in text
    footnotes = [p for p in doc.parts if p.heading == ("Footnotes",)]
    assert [p.text for p in footnotes] == ["This is a footnote."]
    assert doc.meta["author"] == "Michael McCandless" and doc.meta["subject"] == "Subject is here"
    assert "Times New Roman" not in text and "HYPERLINK" not in text  # font table and field codes


def test_rtf_rejects_what_is_not_rtf() -> None:
    with pytest.raises(ParseError, match="not an RTF"):
        parse_bytes(Path("x.rtf"), b"plain words")


# --- notebooks ------------------------------------------------------------------------------------


def test_notebook_cells_outputs_and_locations(text_dir: Path) -> None:
    doc = one(text_dir / "nbformat__test4.ipynb")
    assert doc.title == "nbconvert latex test"
    lorem = next(p for p in doc.parts if "Lorem ipsum" in p.text)
    assert lorem.heading == ("nbconvert latex test", "cell 2") and lorem.line_start == 3
    code = next(p for p in doc.parts if p.kind == "code" and 'print("hello")' in p.text)
    assert code.heading == ("nbconvert latex test", "Printed Using Python", "cell 4")
    output = next(p for p in doc.parts if p.kind == "output")
    assert output.text == "hello" and output.heading == code.heading
    assert output.line_start is not None and code.line_end is not None and output.line_start > code.line_end
    text = all_text(doc)
    assert "iVBORw0KGgo" not in text  # the PNG output
    assert "IPython.core.display" not in text  # object reprs say nothing
    starts = [p.line_start for p in doc.parts]
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(starts))


def test_notebook_without_attachments_or_scripts(text_dir: Path) -> None:
    doc = one(text_dir / "pandoc__simple.ipynb")
    assert doc.title == "Lorem ipsum"
    text = all_text(doc)
    assert "Lorem ipsum dolor" in text.replace("**", "")
    assert "/9j/" not in text  # the base64 JPEG attachment
    html_output = [p.text for p in doc.parts if p.kind == "output"]
    assert html_output == ["HTML\nhello"]  # <script> dropped, the rest as text


def test_schema_invalid_notebook_still_indexes_its_text(shared_data: Path) -> None:
    doc = one(shared_data / "docs_more" / "malformed_hostile" / "nbformat__invalid.ipynb")
    text = all_text(doc)
    assert "Lorem ipsum" in text
    headings = [p.text for p in doc.parts if p.kind == "heading"]
    assert "Printed Using Python" in headings  # an nbformat 3 'heading' cell
    assert any(p.kind == "output" and p.text == "hello" for p in doc.parts)  # the 'bad stream' output


def test_notebook_that_is_not_json_is_refused() -> None:
    with pytest.raises(ParseError, match="not JSON"):
        parse_bytes(Path("x.ipynb"), b"{ not json")
    with pytest.raises(ParseError, match="not a Jupyter notebook"):
        parse_bytes(Path("x.ipynb"), json.dumps([1, 2]).encode())


# --- Org, reST, AsciiDoc, LaTeX ---------------------------------------------------------------------


def test_org_headlines_without_todo_priority_and_drawers(text_dir: Path) -> None:
    doc = one(text_dir / "orgparse__01_attributes.org")
    headings = [(p.text, p.line_start) for p in doc.parts if p.kind == "heading"]
    assert headings[:2] == [("A node with a lot of attributes", 2), ("A node without any attributed", 13)]
    text = all_text(doc)
    assert ":PROPERTIES:" not in text and ":Effort:" not in text
    assert "SCHEDULED: <2010-08-06 Fri>" in text
    last = body(doc)[-1]
    assert (last.text, last.line_start, last.heading) == ("body", 29, ("node with a second line but no date",))


def test_org_manual_title_sections_and_source_blocks(text_dir: Path) -> None:
    path = text_dir / "doomemacs__getting_started.org"
    doc = one(path)
    assert doc.title == "Getting Started Guide"
    lines = path.read_text(encoding="utf-8").split("\n")
    code = [p for p in doc.parts if p.kind == "code"]
    assert len(code) >= 60
    for part in code[:10] + [p for p in doc.parts if p.kind != "code"][:30]:
        if part.kind == "heading":
            continue
        assert part.line_start is not None
        source = lines[part.line_start - 1 : part.line_start - 1 + part.text.count("\n") + 1]
        if part.kind == "code":
            assert part.text.split("\n") == source
    ubuntu = next(p for p in code if "add-apt-repository ppa:kelleyk/emacs" in p.text)
    assert ubuntu.heading[-2:] == ("On Linux", "Ubuntu") and ubuntu.line_start == 122
    quote = next(p for p in doc.parts if "Discord server" in p.text)
    assert quote.line_start == 15 and "join us on our Discord server" in quote.text  # [[url][text]] -> text
    assert "discord.gg" not in quote.text


def test_rst_adornment_levels_and_literal_blocks(text_dir: Path) -> None:
    doc = one(text_dir / "pandoc__rst-reader.rst")
    assert doc.title == "Pandoc Test Suite"
    heads = {p.text: p for p in doc.parts if p.kind == "heading"}
    assert (heads["Level one header"].line_start, heads["Level one header"].line_end) == (10, 11)
    assert heads["Level five"].heading[-2:] == ("Level four with *emphasis*", "Level five")
    assert heads["Level two header"].heading[-2:] == ("Level one header", "Level two header")
    assert any(p.kind == "code" and "def my_function(x):" in p.text for p in doc.parts)
    assert "-----" not in [p.text for p in doc.parts]  # a transition is not text


def test_asciidoc_sections_attributes_and_listings(text_dir: Path) -> None:
    doc = one(text_dir / "asciidoctor__README-jp.adoc")
    assert doc.title == "Asciidoctor"
    sections = [p for p in doc.parts if p.kind == "heading"]
    assert len(sections) == 33  # the document title and its 32 sections
    install = next(p for p in sections if p.text == "インストール")
    assert install.line_start == 154 and install.heading == ("Asciidoctor", "インストール")
    text = all_text(doc)
    assert ":uri-repo:" not in text and "ifdef::" not in text
    first = next(p for p in body(doc) if "テキストプロセッサ" in p.text)
    assert "オープンソース" in first.text and "[オープンソース]" not in first.text  # link text only
    assert "{uri-" not in first.text  # attribute references resolved
    assert any(p.kind == "code" for p in doc.parts)


def test_latex_commands_stripped_lines_kept(text_dir: Path) -> None:
    path = text_dir / "pandoc__latex-reader.latex"
    doc = one(path)
    assert doc.title == "Pandoc Test Suite"
    heads = {p.text: p for p in doc.parts if p.kind == "heading"}
    assert heads["Level 3 with emphasis"].line_start == 28
    assert heads["Level 3 with emphasis"].heading == ("Headers", "Level 2 with an embedded link",
                                                      "Level 3 with emphasis")
    assert "Level 1" in heads  # \section[alt title ignored]{Level 1}
    text = all_text(doc)
    assert "\\usepackage" not in text and "\\begin" not in text and "\\emph" not in text
    assert "This should not be a block quote: 2 > 1." in text
    verbatim = next(p for p in doc.parts if p.kind == "code")
    assert verbatim.text == 'sub status {\n    print "working";\n}' and verbatim.line_start == 74


def test_latex_ruby_keeps_the_base_text_on_its_source_line(text_dir: Path) -> None:
    path = text_dir / "jlreq-sample__ginga-text.tex"
    doc = one(path)
    chapter = next(p for p in doc.parts if p.kind == "heading")
    assert (chapter.text, chapter.line_start) == ("午後の授業", 3)
    first = body(doc)[0]
    assert first.line_start == 5 and first.heading == ("午後の授業",)
    assert "\\ruby" not in first.text and "ぎん|が" not in first.text
    assert "何かご承知ですか" in first.text and "銀河帯のようなところを指しながら" in first.text
    source = path.read_text(encoding="utf-8").split("\n")
    assert source[first.line_start - 1].startswith("「ではみなさんは")


def test_tex_inline() -> None:
    assert tex_inline(r"\emph{x} and \textbf{bold \emph{deep}} 50\% \ruby{漢字}{かん|じ} % note") == \
        "x and bold deep 50% 漢字 "
    assert tex_inline(r"see \href{http://x}{the site}\footnote{A note.}") == "see the siteA note."


def test_odt_table_cell_keeps_its_footnote_apart_and_a_nested_table_once() -> None:
    content = f"""<?xml version="1.0"?>
<office:document-content {ODT_NS}><office:body><office:text>
<table:table><table:table-row><table:table-cell><text:p>Price<text:note text:note-class="footnote">
<text:note-citation>1</text:note-citation><text:note-body><text:p>Excludes VAT.</text:p></text:note-body>
</text:note></text:p></table:table-cell><table:table-cell><table:table><table:table-row><table:table-cell>
<text:p>10</text:p></table:table-cell></table:table-row></table:table></table:table-cell></table:table-row>
</table:table></office:text></office:body></office:document-content>"""
    doc = parse_bytes(Path("price.odt"), _odt(content))[0]
    assert [(p.kind, p.text) for p in doc.parts] == [("table", "Price | 10"), ("footnote", "Excludes VAT.")]


def test_latex_comment_line_inside_a_paragraph_keeps_later_lines_exact() -> None:
    tex = b"\\begin{document}\nLine one\n% a comment\nLine three\nLine four\n\\end{document}\n"
    part = parse_bytes(Path("a.tex"), tex)[0].parts[0]
    assert (part.line_start, part.line_end) == (2, 5) and part.text.split("\n")[3] == "Line four"
