"""A real IMAP server for tests: Dovecot (installed by ``make system-deps``) on a free loopback port, with one
user and a maildir in a folder of its own, started in the foreground and stopped with the test."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.path.exists(p)), None)
USER, PASSWORD = "alice", "correct horse battery"


@dataclass
class ImapServer:
    port: int
    log: Path

    def source(self, mailbox: str = "INBOX") -> str:
        return f"imap://{USER}@127.0.0.1:{self.port}/{mailbox}"

    @contextmanager
    def session(self, mailbox: str = "INBOX") -> Iterator[imaplib.IMAP4]:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            conn.login(USER, PASSWORD)
            conn.select(mailbox)
            yield conn
        finally:
            conn.logout()

    def append(self, subject: str, body: str, mailbox: str = "INBOX") -> int:
        """Deliver one message; returns its UID."""
        msg = EmailMessage()
        msg["From"] = "Bob <bob@example.org>"
        msg["To"] = f"{USER}@example.org"
        msg["Subject"] = subject
        msg["Date"] = "Tue, 01 Dec 2026 09:00:00 +0000"
        msg.set_content(body)
        with self.session(mailbox) as conn:
            typ, data = conn.append(mailbox, "", None, msg.as_bytes())
            assert typ == "OK", data
            text = data[0].decode() if data and isinstance(data[0], bytes) else ""
            return int(text.split("APPENDUID", 1)[1].split()[1].rstrip("]"))

    def delete(self, uid: int, mailbox: str = "INBOX") -> None:
        with self.session(mailbox) as conn:
            conn.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)")
            conn.expunge()

    def create(self, mailbox: str) -> None:
        with self.session() as conn:
            conn.create(mailbox)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={mail}/%u
}}
first_valid_uid = 1
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
"""


@contextmanager
def dovecot() -> Iterator[ImapServer]:
    """Dovecot on a free port. As root, mail is kept by the ``dovecot`` user (Dovecot will not serve uid 0),
    in a folder outside pytest's private temporary tree; as another user, everything runs as that user."""
    if DOVECOT is None:
        pytest.skip("Dovecot is not installed (`make system-deps` installs dovecot-imapd)")
    base = Path(tempfile.mkdtemp(prefix="ragd-imap-"))
    for sub in ("run", "state", "mail"):
        (base / sub).mkdir()
    if os.getuid() == 0:
        owner = pwd.getpwnam("dovecot")
        base.chmod(0o755)
        os.chown(base / "mail", owner.pw_uid, owner.pw_gid)
        names = {"login_user": "dovenull", "internal_user": "dovecot", "mail_user": "dovecot",
                 "mail_group": "dovecot"}
    else:
        me = pwd.getpwuid(os.getuid()).pw_name
        names = {"login_user": me, "internal_user": me, "mail_user": str(os.getuid()), "mail_group": str(os.getgid())}
    port = _free_port()
    (base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (base / "dovecot.conf").write_text(CONFIG.format(base=base, mail=base / "mail", port=port, **names))
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(base / "dovecot.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    server = ImapServer(port, base / "dovecot.log")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with server.session():
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"Dovecot did not start: {err}") from None
                time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(base, ignore_errors=True)
