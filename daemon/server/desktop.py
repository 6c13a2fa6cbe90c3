"""Opening a file with the desktop's own application (the page's "Open file" button)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping

from ragd.index.errors import RagdError


class NoOpener(RagdError):
    """This machine has no way to open files on a desktop (a server, a container)."""


def opener_command(path: str, env: Mapping[str, str], platform: str = sys.platform) -> list[str]:
    """``RAGD_OPENER`` if set (a command; the path is added), else ``open`` on macOS, ``xdg-open`` elsewhere."""
    custom = env.get("RAGD_OPENER", "").strip()
    if custom:
        return [*shlex.split(custom), path]
    if platform == "darwin":
        return ["open", path]
    tool = shutil.which("xdg-open")
    if tool is None:
        raise NoOpener("this machine has no desktop opener (xdg-open); open the file yourself: " + path)
    return [tool, path]


def open_with_desktop(path: str, env: Mapping[str, str]) -> None:
    """Start the opener detached: the daemon neither waits for it nor shares its terminal."""
    try:
        subprocess.Popen(opener_command(path, env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError as exc:
        raise NoOpener(f"cannot start the desktop opener: {exc.strerror or exc}") from None
