"""Private files: ragd's folders are its user's alone, and nothing in them is trusted blindly.

- Everything ragd writes is private: the process umask is 077 from the start (``start``), new folders are
  made 0700 and files 0600, and files left readable by older versions are tightened once, with a note.
- ragd refuses folders another user can write to (``check_folders``): whoever can write there could plant
  links or files that ragd would then follow or trust.
- State files (the token, the daemon file, locks, logs) are opened without following a link and only when
  they are regular files of this user (``open_private``); new ones appear atomically (``write_private``).
"""

from __future__ import annotations

import errno
import grp
import logging
import os
import pwd
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from ragd.index.errors import RagdError

log = logging.getLogger(__name__)

UMASK = 0o077
_OTHERS = stat.S_IRWXG | stat.S_IRWXO
_SHOWN = 5  # paths named in the tightening note


class PrivacyError(RagdError):
    """A folder or file of ragd's that another user can write to, or may have planted."""


class Folders(Protocol):
    """What ``start`` needs from the configuration."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def state_dir(self) -> Path: ...


def start(config: Folders, env: Mapping[str, str], *, create: bool = False) -> None:
    """At the start of every command: umask 077, refuse folders others can write to, tighten old files.

    ``create`` makes the data and state folders first (0700), so that the check sees the folders ragd
    will use rather than leaving a gap in which someone else could make them."""
    os.umask(UMASK)
    if create:
        for folder in (config.data_dir, config.state_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    home = Path(env["RAGD_HOME"]).expanduser().resolve() if env.get("RAGD_HOME") else None
    strict = [p for p in (home, config.data_dir, config.state_dir) if p is not None]
    check_folders(strict, parents=[config.data_dir.parent, config.state_dir.parent])
    tighten([config.data_dir, config.state_dir])


# -- who can write to a folder ------------------------------------------------------------------------
def _own_private_group(gid: int) -> bool:
    """Whether group ``gid`` is this user's own group (the user-private-group scheme: same name, no one
    else in it), in which case group write access lets no other user in."""
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(gid)
    except KeyError:
        return False
    return gid == os.getegid() and group.gr_name == user and set(group.gr_mem) <= {user}


def others_can_write(st: os.stat_result, *, sticky_ok: bool = False) -> str | None:
    """Why a user other than this one (and root) can change what is in a folder; None if none can.
    ``sticky_ok``: a shared folder with the sticky bit (like /tmp) is fine as a parent, since others
    cannot rename or remove what is ours in it."""
    if st.st_uid not in (os.geteuid(), 0):
        return f"owned by another user (uid {st.st_uid})"
    mode = stat.S_IMODE(st.st_mode)
    if sticky_ok and mode & stat.S_ISVTX:
        return None
    if mode & stat.S_IWOTH:
        return f"writable by every user (mode {mode:o})"
    if mode & stat.S_IWGRP and not _own_private_group(st.st_gid):
        return f"writable by its group (mode {mode:o})"
    return None


def check_folders(folders: Iterable[Path], parents: Iterable[Path] = ()) -> None:
    """Raise ``PrivacyError`` for the first existing folder that another user can write to.
    ``folders`` must be private; ``parents`` may also be shared folders with the sticky bit."""
    strict = list(dict.fromkeys(folders))
    lenient = [p for p in dict.fromkeys(parents) if p not in strict]
    for folder, sticky_ok in [*((f, False) for f in strict), *((p, True) for p in lenient)]:
        try:
            st = folder.stat()
        except FileNotFoundError:
            continue  # made private when it is made
        why = others_can_write(st, sticky_ok=sticky_ok)
        if why is not None:
            fix = f"chmod go-w {folder}" if why.startswith("writable") else f"chown $USER {folder}"
            raise PrivacyError(f"refusing to use {folder}: it is {why}, and ragd keeps its index and API token "
                               f"there, which another user could then take over; make it yours alone ({fix})")


def private_dir(folder: Path) -> None:
    """Make ``folder`` (0700) if it is missing; refuse it if another user can write to it."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    check_folders([folder])


# -- tightening what older versions left readable -------------------------------------------------------
def tighten(roots: Iterable[Path]) -> list[Path]:
    """Take group and other access off every file and folder of this user under ``roots`` (links are
    neither followed nor changed); log one note naming what changed. Returns the changed paths."""
    changed: list[Path] = []
    for root in dict.fromkeys(roots):
        if not root.is_dir():
            continue
        _tighten_one(root, os.stat(root), changed)  # the root itself may be a link the user made to a disk
        for folder, dirs, files in os.walk(root, onerror=lambda exc: None):
            for name in (*dirs, *files):
                path = Path(folder) / name
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISLNK(st.st_mode):
                    _tighten_one(path, st, changed)
    if changed:
        shown = ", ".join(map(str, changed[:_SHOWN])) + (f" and {len(changed) - _SHOWN} more"
                                                         if len(changed) > _SHOWN else "")
        log.warning("made %d files and folders private that other users could read (mode now 0600/0700): %s",
                    len(changed), shown)
    return changed


def _tighten_one(path: Path, st: os.stat_result, changed: list[Path]) -> None:
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid() or not mode & _OTHERS:
        return  # not ours to change (and in a private folder no one else reaches it)
    try:
        os.chmod(path, mode & ~_OTHERS)
    except OSError as exc:
        log.warning("could not make %s private: %s", path, exc.strerror or exc)
        return
    changed.append(path)


# -- state files ---------------------------------------------------------------------------------------
def open_private(path: Path, flags: int, mode: int = 0o600) -> int:
    """``os.open`` for a file in ragd's own folders: a link is never followed, and the file must be a
    regular file of this user with no other names. Raises ``PrivacyError`` otherwise (the fd is closed);
    a missing file without ``O_CREAT`` raises ``FileNotFoundError`` as usual."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # EMLINK: what FreeBSD says for a link
            raise PrivacyError(f"refusing {path}: it is a symbolic link, and ragd never follows links in its "
                               "own folders (another user may have planted it); remove it") from None
        raise
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = "it is not a regular file"
    elif st.st_uid != os.geteuid():
        problem = f"it belongs to another user (uid {st.st_uid})"
    elif st.st_nlink != 1:
        problem = "it has other names (hard links)"
    if problem is not None:
        os.close(fd)
        raise PrivacyError(f"refusing {path}: {problem}; another user may have planted it; remove it")
    return fd


def read_private(path: Path) -> str | None:
    """The text of a private state file; None when it does not exist."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _read_all(fd).decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 65536):
        parts.append(chunk)
    return b"".join(parts)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600. The temporary file has a fresh random name and is
    created exclusively, so a file or link planted under a predictable name is never written through;
    ``os.replace`` then replaces whatever is at ``path`` (a planted link itself, never its target)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            data = text.encode()
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
