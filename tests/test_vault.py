"""Obsidian-style notes: front matter, wikilinks resolved by name, embeds never inlined, embed cycles recorded.

Reads the vaults in docs_more/vault and docs_more/malformed_hostile (see docs_more/manifest.csv); the
end-to-end test indexes a copy of one through the real pipeline.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from ragd.index.models import Document
from ragd.index.parse import parse_file
from ragd.index.parse.markdown import parse_markdown
from ragd.index.parse.vault import embed_targets


@pytest.fixture(scope="module")
def vaults(shared_data: Path) -> Path:
    folder = shared_data / "docs_more" / "vault"
    if not folder.is_dir():
        pytest.skip("docs_more/vault not found")
    return folder


@pytest.fixture(scope="module")
def samples(vaults: Path) -> Path:
    return vaults / "obsidian-export__main-samples"


@pytest.fixture(scope="module")
def dataview(vaults: Path) -> Path:
    return vaults / "obsidian-dataview__test-vault"


def one(path: Path) -> Document:
    docs = parse_file(path)
    assert len(docs) == 1
    return docs[0]


def texts(doc: Document) -> list[str]:
    return [p.text for p in doc.parts if p.kind != "heading"]


# --- front matter ---------------------------------------------------------------------------------


def test_front_matter_is_metadata_not_text_and_lines_stay_exact(samples: Path) -> None:
    doc = one(samples / "note-with-frontmatter.md")
    assert [(p.text, p.line_start) for p in doc.parts] == [("Note with frontmatter.", 5)]
    assert doc.title is None  # no `title` key, no H1


def test_front_matter_dates_and_title_fallback_to_h1(dataview: Path) -> None:
    post = one(dataview / "blog" / "2020-08-08-an-earlier-post.md")
    assert post.title == "A Blog Post in 2020"
    assert post.meta["start_date"] == "2021-10-01T02:00:00+02:00"
    assert post.meta["fourth_date"] == "2021-11-01T01:00:00[Europe/Paris]"  # not a YAML date: kept as written
    assert "draft" not in " ".join(texts(post))
    recipe = one(dataview / "recipes" / "pbj.md")
    assert recipe.meta["thoughtOfDate"] == "2021-12-11"
    heading = next(p for p in recipe.parts if p.kind == "heading")
    assert (heading.text, heading.line_start) == ("Peanut Butter and Jelly", 6)


def test_front_matter_title_tags_aliases_and_guards() -> None:
    doc = parse_markdown("---\ntitle: Field Notes\ntags: [birds, 'spring 2024']\naliases: Notes\n"
                         "created: 2024-03-01\n---\n# Heading\nBody.\n")
    assert doc.title == "Field Notes"
    assert doc.meta == {"tags": "birds; spring 2024", "aliases": "Notes", "created": "2024-03-01"}
    assert [(p.text, p.line_start) for p in doc.parts if p.kind != "heading"] == [("Body.", 8)]
    listed = parse_markdown("---\n- just\n- a list\n---\nText.\n")
    assert listed.meta == {} and texts(listed) == ["Text."]
    broken = parse_markdown("---\ntitle: [unclosed\n---\n# Real Title\n")
    assert broken.title == "Real Title"
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "tags: *i\n---\nText.\n"
    assert "tags" not in parse_markdown(bomb).meta  # nested lists are never flattened


# --- wikilinks ------------------------------------------------------------------------------------


def test_wikilinks_read_as_words_and_resolve_by_name(samples: Path) -> None:
    doc = one(samples / "obsidian-wikilinks.md")
    lines = texts(doc)
    assert lines[:4] == ["Link to pure-markdown-examples and the same Pure-Markdown-Examples.",
                         "Link to pure markdown examples.", "Link to pure-markdown-examples.",
                         "Link to pure markdown examples."]
    assert doc.meta["links"] == "pure-markdown-examples.md; Uppercased-note.md; _underscored-note.md"
    assert "Link within backticks: `[[pure-markdown-examples]]`" in lines  # code is not a link
    assert "[[unclosed link" in lines


def test_wikilink_targets_are_trimmed(samples: Path) -> None:
    doc = one(samples / "issue-188-wikilinks-need-trimming.md")
    assert doc.meta["links"] == "foo.md"
    assert texts(doc)[1] == "foo\nfoo\nfoo\nfoo"
    formatted = one(samples / "wikilinks-with-formatting-symbols.md")
    expected = "This wikilink has formatted text: Example **bold**, *italic*, or ~~strikethrough~~ text"
    assert texts(formatted) == [expected]


def test_links_into_another_folder_are_relative_to_the_note(samples: Path, dataview: Path) -> None:
    home = one(dataview / "Home.md")
    assert home.meta["links"] == "example tables.md; example lists.md; tasks/example tasks.md"
    back = one(samples / "subdir" / "note-in-subdir.md")
    assert "links" not in back.meta  # no .obsidian/ in this sample vault: the note's own folder is the vault
    book = one(dataview / "books" / "Catcher in the Rye.md")
    assert texts(book) == ["- Author: J.D. Salinger\n- Tag: Fiction"] and "links" not in book.meta


# --- embeds ---------------------------------------------------------------------------------------


def test_embeds_are_named_not_inlined(samples: Path) -> None:
    doc = one(samples / "embeds.md")
    text = "\n".join(texts(doc))
    assert "(embedded: note-with-frontmatter)" in text
    assert "Note with frontmatter." not in text  # the embedded note's own text stays in that note
    assert doc.meta["embeds"] == "note-with-frontmatter.md; white.png; bulb.svg; note.pdf"
    assert "`![[note-with-frontmatter]]`" in text  # in a code span: not an embed
    assert "embed_cycle" not in doc.meta
    sub = one(samples / "embeds-note-in-subdir.md")
    assert sub.meta["embeds"] == "subdir/note-in-subdir.md"
    partial = one(samples / "embeds-partial-note.md")
    assert texts(partial) == ["(embedded: note-with-headings)"] and partial.meta["embeds"] == "note-with-headings.md"
    assert texts(one(samples / "partial-embed-at-EOF.md")) == ["![[Partial embed"]


def test_embed_targets_skip_code() -> None:
    assert embed_targets("![[a]] `![[b]]`\n```\n![[c]]\n```\n![[d#x|y]]\n") == ["a", "d"]


def test_embed_cycle_is_recorded_and_nothing_hangs(shared_data: Path) -> None:
    folder = shared_data / "docs_more" / "malformed_hostile" / "obsidian-export__infinite-recursion"
    done: dict[str, Document] = {}

    def work() -> None:
        for name in ("Note A", "Note B", "Note C"):
            done[name] = one(folder / f"{name}.md")

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "parsing an embed cycle hung"
    assert done["Note A"].meta["embed_cycle"] == "Note A → Note B → Note C → Note A"
    assert done["Note C"].meta["embed_cycle"] == "Note C → Note A → Note B → Note C"
    assert done["Note A"].meta["embeds"] == "Note B.md"
    assert texts(done["Note C"]) == ["This note (C) embeds note A:", "(embedded: Note A)", "Note C ends here."]


# --- end to end -----------------------------------------------------------------------------------


def test_a_phrase_of_an_embedded_note_is_found_in_that_note(samples: Path, tmp_path: Path) -> None:
    from tests.test_pipeline import World

    world = World(tmp_path)
    shutil.copytree(samples, world.root / "vault", ignore=shutil.ignore_patterns("*.png", "*.svg", "*.pdf"))
    (world.root / "vault" / ".obsidian").mkdir()
    stats = world.run()
    assert stats.files_failed == 0, stats.failures
    hits = world.search("links back to pure-markdown-examples", k=5)
    assert hits, "no hits"
    top = hits[0]
    assert top.path == str(world.root / "vault" / "subdir" / "note-in-subdir.md")
    assert (top.line_start, top.line_end) == (1, 1)
    assert all("links back" not in h.text for h in hits if not h.path.endswith("note-in-subdir.md"))
    embedding = [h for h in world.search("note-in-subdir embeds", k=10) if h.path.endswith("embeds-note-in-subdir.md")]
    assert embedding and all("links back" not in h.text for h in embedding)
