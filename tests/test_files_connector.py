import os
from pathlib import Path

from ragd.connectors.files import FileFilter, FilesConnector


def _write(root: Path, rel: str, text: str = "x") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def _names(connector: FilesConnector) -> list[str]:
    return sorted(os.path.relpath(e.path, connector.root) for e in connector.scan())


def test_walk_skips_hidden_system_and_temporary_files(tmp_path):
    for rel in ["a.txt", "sub/b.md", ".hidden.txt", ".git/config", "node_modules/x.js", "sub/c.txt~", "~$lock.docx"]:
        _write(tmp_path, rel)
    assert _names(FilesConnector(tmp_path)) == ["a.txt", "sub/b.md"]


def test_gitignore_files_apply_below_their_folder(tmp_path):
    _write(tmp_path, ".gitignore", "*.log\nbuild/\n")
    _write(tmp_path, "sub/.ragdignore", "secret.txt\n")
    for rel in ["keep.txt", "x.log", "build/out.txt", "sub/secret.txt", "sub/ok.txt", "secret.txt"]:
        _write(tmp_path, rel)
    assert _names(FilesConnector(tmp_path)) == ["keep.txt", "secret.txt", "sub/ok.txt"]


def test_include_and_exclude_globs(tmp_path):
    for rel in ["a.md", "b.txt", "notes/c.md", "notes/drafts/d.md"]:
        _write(tmp_path, rel)
    f = FileFilter(include=["*.md"], exclude=["drafts/"])
    assert _names(FilesConnector(tmp_path, f)) == ["a.md", "notes/c.md"]


def test_size_limit_marks_big_files_as_skipped(tmp_path):
    _write(tmp_path, "small.txt", "x" * 10)
    _write(tmp_path, "big.txt", "x" * 5000)
    entries = {Path(e.path).name: e for e in FilesConnector(tmp_path, FileFilter(max_bytes=1000)).scan()}
    assert entries["small.txt"].skip_reason is None
    assert "size limit" in (entries["big.txt"].skip_reason or "")


def test_symlink_loops_are_walked_once(tmp_path):
    _write(tmp_path, "d/file.txt")
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    os.symlink(tmp_path, tmp_path / "d" / "up")
    names = _names(FilesConnector(tmp_path))
    assert names == ["d/file.txt"]


def test_a_single_file_can_be_a_source_and_covers_works(tmp_path):
    f = _write(tmp_path, "one.txt")
    c = FilesConnector(f)
    assert [e.path for e in c.scan()] == [str(f)]
    folder = FilesConnector(tmp_path)
    assert folder.covers(str(tmp_path / "x" / "y.txt"))
    assert not folder.covers(str(tmp_path) + "-other/y.txt")


def test_unreadable_folder_is_reported_not_fatal(tmp_path):
    _write(tmp_path, "ok.txt")
    errors = []
    c = FilesConnector(tmp_path / "missing", on_error=lambda p, e: errors.append(p))
    assert list(c.scan()) == []
    assert errors
