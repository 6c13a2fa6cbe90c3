import os
import stat
import subprocess
import sys

import pytest

from ragd.index.errors import RagdError
from ragd.index.lock import WriterLock


def test_a_second_writer_gets_a_clear_error_naming_the_first(tmp_path):
    lock = tmp_path / "writer.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom ragd.index.lock import WriterLock\nfrom pathlib import Path\n"
        f"with WriterLock(Path({str(lock)!r})):\n    print('held', flush=True)\n    time.sleep(30)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RagdError, match=f"pid {holder.pid}"), WriterLock(lock):
            pass
    finally:
        holder.kill()
        holder.wait()
    with WriterLock(lock):  # free again once the holder is gone (even by SIGKILL)
        pass


def test_a_planted_link_is_refused_and_its_target_never_truncated(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("precious data\n")
    target.chmod(0o644)
    lock = tmp_path / "state" / "writer.lock"
    lock.parent.mkdir()
    lock.symlink_to(target)
    with pytest.raises(RagdError, match="symbolic link"), WriterLock(lock):
        pass
    assert target.read_text() == "precious data\n" and stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_hard_link_or_another_users_file_is_refused(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("precious data\n")
    lock = tmp_path / "writer.lock"
    os.link(target, lock)
    with pytest.raises(RagdError, match="hard links"), WriterLock(lock):
        pass
    assert target.read_text() == "precious data\n"
    if os.geteuid() == 0:  # root can give the file away, as another user could have planted it
        lock.unlink()
        lock.write_text("")
        os.chown(lock, 54321, 54321)
        with pytest.raises(RagdError, match="another user"), WriterLock(lock):
            pass


def test_the_lock_file_is_private(tmp_path):
    lock = tmp_path / "state" / "writer.lock"
    old = os.umask(0o022)
    try:
        with WriterLock(lock):
            assert lock.read_text() == str(os.getpid())
    finally:
        os.umask(old)
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600 and stat.S_IMODE(lock.parent.stat().st_mode) == 0o700
