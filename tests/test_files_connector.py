import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from ragd.connectors import Entry
from ragd.connectors.files import FileFilter, FilesConnector, Unreadable


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


# -- symbolic links (issue 15, item 4) and unreadable folders (item 7) --------------------------------------

def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A source ``notes`` and a folder ``outside`` it, each with a file of its own."""
    notes, outside = tmp_path / "notes", tmp_path / "outside"
    _write(notes, "plain.txt", "plain")
    _write(outside, "secret.txt", "zanzibar outside secret")
    _write(outside, "dir/inner.txt", "zanzibar outside folder")
    return notes, outside


def _scan(connector: FilesConnector) -> dict[str, Entry]:
    entries = list(connector.scan())
    assert len({e.path for e in entries}) == len(entries), "a path was yielded twice"
    return {e.path: e for e in entries}


def _taken(connector: FilesConnector) -> list[str]:
    """The paths a scan takes for indexing (skipped entries left out)."""
    return sorted(p for p, e in _scan(connector).items() if e.skip_reason is None)


def test_links_leading_out_of_the_sources_are_not_followed(tmp_path):
    notes, outside = _tree(tmp_path)
    os.symlink(outside / "secret.txt", notes / "secret.txt")
    os.symlink("/etc/passwd", notes / "passwd.txt")
    os.symlink(outside / "dir", notes / "linked")
    c = FilesConnector(notes)
    entries = _scan(c)
    assert _taken(c) == [str(notes / "plain.txt")]
    # what was left out is listed as skipped (so its absence is explained), under the link's name
    for name in ("secret.txt", "passwd.txt", "linked"):
        reason = entries[str(notes / name)].skip_reason or ""
        assert "outside the sources" in reason and "follow_symlinks" in reason
    # the watcher's way in judges the same: one changed path, or a folder
    assert (c.entry(str(notes / "passwd.txt")) or Entry("", 0, 0)).skip_reason
    assert (c.entry(str(notes / "secret.txt")) or Entry("", 0, 0)).skip_reason
    assert c.entry(str(notes / "linked" / "inner.txt")) is None
    assert [e.skip_reason is not None for e in c.scan_under(str(notes / "linked"))] == [True]


def test_a_link_inside_the_source_is_followed_and_indexed_once_under_its_real_path(tmp_path):
    notes, _ = _tree(tmp_path)
    real = _write(notes, "sub/real.txt", "real")
    os.symlink(real, notes / "a-link.txt")  # sorts before the real file
    os.symlink("sub", notes / "a-dir")  # a relative link to a folder of the same source
    c = FilesConnector(notes)
    assert _taken(c) == [str(notes / "plain.txt"), str(real)]
    assert (c.entry(str(notes / "a-link.txt")) or Entry("", 0, 0)).path == str(real)
    assert (c.entry(str(notes / "a-dir" / "real.txt")) or Entry("", 0, 0)).path == str(real)
    assert [e.path for e in c.scan_under(str(notes / "a-dir"))] == [str(real)]


def test_a_link_to_another_source_takes_the_target_as_that_source_does(tmp_path):
    notes, _ = _tree(tmp_path)
    other = tmp_path / "other"
    kept = _write(other, "kept.txt", "kept")
    _write(other, ".gitignore", "ignored/\n")
    _write(other, "ignored/no.txt", "no")
    os.symlink(kept, notes / "kept.txt")
    os.symlink(other / "ignored" / "no.txt", notes / "no.txt")  # visible here, ignored where it lives
    os.symlink(other, notes / "other-dir")
    c = FilesConnector(notes, sources=[str(notes), str(other)])
    assert _taken(c) == [str(notes / "plain.txt"), str(kept)]
    assert c.entry(str(notes / "no.txt")) is None
    assert c.entry(str(notes / "other-dir" / "ignored" / "no.txt")) is None
    assert (c.entry(str(notes / "other-dir" / "kept.txt")) or Entry("", 0, 0)).path == str(kept)
    # without the other source configured, the same links lead outside
    assert _taken(FilesConnector(notes)) == [str(notes / "plain.txt")]


def test_hidden_and_ignored_targets_stay_out_through_visible_links(tmp_path):
    notes, _ = _tree(tmp_path)
    _write(notes, ".secret/key.txt", "key")
    _write(notes, "private/p.txt", "private")
    _write(notes, "build/b.txt", "built")
    _write(notes, ".gitignore", "build/\n")
    os.symlink(notes / ".secret" / "key.txt", notes / "key.txt")
    os.symlink(notes / ".secret", notes / "visible-dir")
    os.symlink(notes / "private" / "p.txt", notes / "p.txt")
    os.symlink(notes / "build" / "b.txt", notes / "b.txt")
    c = FilesConnector(notes, FileFilter(exclude=["private/"]))
    entries = _scan(c)
    assert sorted(entries) == [str(notes / "plain.txt")]  # not even listed as skipped: nothing to explain
    for rel in ("key.txt", "visible-dir/key.txt", "p.txt", "b.txt"):
        assert c.entry(str(notes / rel)) is None, rel
    assert list(c.scan_under(str(notes / "visible-dir"))) == []
    # and the link's own name is still judged: a hidden link to a visible file is skipped as before
    os.symlink(notes / "plain.txt", notes / ".hidden-link.txt")
    assert sorted(_scan(c)) == [str(notes / "plain.txt")]


def test_never_follows_no_link(tmp_path):
    notes, outside = _tree(tmp_path)
    real = _write(notes, "sub/real.txt", "real")
    os.symlink(real, notes / "link.txt")
    os.symlink(outside / "secret.txt", notes / "secret.txt")
    c = FilesConnector(notes, follow_symlinks="never")
    entries = _scan(c)
    assert _taken(c) == [str(notes / "plain.txt"), str(real)]
    assert 'follow_symlinks = "never"' in (entries[str(notes / "secret.txt")].skip_reason or "")
    assert c.entry(str(notes / "link.txt")) is None


def test_always_follows_links_out_under_their_own_names_but_not_into_hidden_places(tmp_path):
    notes, outside = _tree(tmp_path)
    _write(outside, ".private/key.txt", "key")
    os.symlink(outside / "secret.txt", notes / "secret.txt")
    os.symlink(outside / "secret.txt", notes / "again.txt")  # a second link to one file: taken once
    os.symlink(outside / "dir", notes / "linked")
    os.symlink(outside / ".private" / "key.txt", notes / "key.txt")
    c = FilesConnector(notes, follow_symlinks="always")
    taken = _taken(c)
    assert str(notes / "linked" / "inner.txt") in taken and str(notes / "plain.txt") in taken
    assert len([p for p in taken if p.endswith(("secret.txt", "again.txt"))]) == 1
    assert str(notes / "key.txt") not in taken and c.entry(str(notes / "key.txt")) is None
    assert (c.entry(str(notes / "linked" / "inner.txt")) or Entry("", 0, 0)).path == str(notes / "linked" / "inner.txt")


def test_unknown_follow_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="follow_symlinks"):
        FilesConnector(tmp_path, follow_symlinks="sometimes")


@pytest.mark.timeout(20)
def test_broken_links_loops_fifos_and_devices_are_skipped_without_blocking(tmp_path):
    notes, _ = _tree(tmp_path)
    os.symlink(notes / "gone.txt", notes / "broken.txt")
    os.symlink(notes / "loop-b", notes / "loop-a")
    os.symlink(notes / "loop-a", notes / "loop-b")
    os.mkfifo(notes / "pipe.txt")
    os.symlink(notes / "pipe.txt", notes / "to-pipe.txt")
    os.symlink("/dev/zero", notes / "zero.txt")
    os.mkdir(notes / "sub")
    os.mkfifo(notes / "sub" / ".gitignore")  # reading it would block forever
    c = FilesConnector(notes)
    assert sorted(_scan(c)) == [str(notes / "plain.txt")]
    for name in ("broken.txt", "loop-a", "pipe.txt", "to-pipe.txt", "zero.txt", "sub/x.txt"):
        assert c.entry(str(notes / name)) is None, name
    assert list(c.scan_under(str(notes / "sub"))) == []


@pytest.mark.timeout(20)
def test_the_indexer_never_opens_a_fifo(tmp_path):
    from ragd.index.items import file_hash

    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(OSError, match="not a regular file"):
        file_hash(str(tmp_path / "pipe.txt"))


def _scan_as_nobody(connector: FilesConnector) -> dict[str, str]:
    """Scan in a forked child that runs as ``nobody`` (root reads a chmod 000 folder; another user cannot)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, scan, report what was unreadable, exit without cleanup
        code = 1
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            list(connector.scan())
            assert connector.unreadable is not None
            os.write(write, json.dumps(connector.unreadable.snapshot()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    found: dict[str, str] = json.loads(data)
    return found


def test_an_unreadable_folder_is_recorded_with_its_reason_and_cleared_once_readable(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="ragd-perm-", dir="/tmp"))  # world-traversable, unlike tmp_path
    locked = base / "locked"
    try:
        base.chmod(0o755)
        _write(base, "ok.txt")
        _write(locked, "inside.txt")
        locked.chmod(0)
        unreadable = Unreadable()
        c = FilesConnector(base, unreadable=unreadable)
        scan = _scan_as_nobody if os.geteuid() == 0 else (lambda c: (list(c.scan()), unreadable.snapshot())[1])
        assert scan(c) == {str(locked): "permission denied"}
        locked.chmod(0o755)
        assert scan(c) == {}
    finally:
        locked.chmod(0o755)
        shutil.rmtree(base)


def test_unreadable_records_are_replaced_by_the_next_scan_of_their_place(tmp_path):
    u = Unreadable()
    u.settle("/s", {"/s/a": "permission denied", "/s/b/c": "permission denied"})
    u.settle("/s/b", {})
    assert u.snapshot() == {"/s/a": "permission denied"}
    u.settle("/t", {"/t/x": "permission denied"})
    u.keep_under(["/t"])
    assert u.snapshot() == {"/t/x": "permission denied"}
