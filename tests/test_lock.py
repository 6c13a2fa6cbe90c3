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
