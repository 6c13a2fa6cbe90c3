"""Starting and stopping the daemon from the tray: through its service when one is installed, else as a
detached ``ragd serve``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ragd.daemon.config import Config
from ragd.daemon.install import files as sf
from ragd.daemon.server.security import read_daemon_file
from ragd.daemon.service.client import pid_alive
from ragd.daemon.tray.view import NOT_RUNNING
from ragd.index.errors import RagdError
from ragd.index.private import open_private

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]
Spawner = Callable[..., subprocess.Popen[bytes]]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    from ragd.daemon.install.steps import run_command

    return run_command(argv)


@dataclass
class DaemonLauncher:
    """Starts the daemon through its service when one is installed (``ragd service install``), else as
    ``ragd serve`` in a new session with its output in ``<state>/serve.log``; stops it through the
    service, or with SIGTERM to the pid in the daemon file (the daemon has no stop endpoint)."""

    config: Config
    home: Path
    platform: str = sys.platform
    uid: int = field(default_factory=lambda: os.getuid() if hasattr(os, "getuid") else 0)
    argv: Callable[[str], list[str]] = field(default_factory=lambda: _default_argv)
    run: Runner = _run
    spawn: Spawner = subprocess.Popen
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)  # daemons this tray started

    @property
    def log_path(self) -> Path:
        return self.config.state_dir / "serve.log"

    def service(self) -> Literal["systemd", "launchd"] | None:
        """The service manager that has ragd installed, if any."""
        if self.platform.startswith("linux") and sf.unit_path(self.home).exists():
            return "systemd"
        if self.platform == "darwin" and sf.plist_path(self.home).exists():
            return "launchd"
        return None

    def start(self) -> str:
        service = self.service()
        if service == "systemd":
            self._check(("systemctl", "--user", "start", sf.UNIT_NAME))
            return "started the ragd service (systemctl --user start)"
        if service == "launchd":
            agent = f"gui/{self.uid}/{sf.LABEL}"
            if self.run(("launchctl", "kickstart", agent)).returncode == 0:
                return "started the ragd agent (launchctl kickstart)"
            # not loaded (Stop boots it out): load it again, and RunAtLoad starts it
            self._check(("launchctl", "bootstrap", f"gui/{self.uid}", str(sf.plist_path(self.home))))
            return "started the ragd agent (launchctl bootstrap)"
        self.config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        argv = self.argv("serve")
        with open(self.log_path, "ab", opener=lambda path, flags: open_private(Path(path), flags)) as out:
            child = self.spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True, close_fds=True)
        self.children = [c for c in self.children if c.returncode is None] + [child]
        # wait for it on a thread of its own: a daemon that stops is never left a zombie of the tray
        threading.Thread(target=child.wait, name=f"ragd-tray-reap-{child.pid}", daemon=True).start()
        return f"started `{' '.join(argv)}` (pid {child.pid}; log {self.log_path})"

    def stop(self) -> str:
        info = read_daemon_file(self.config.daemon_path) or {}
        pid = info.get("pid")
        said = []
        service = self.service()
        if service == "systemd":
            self._check(("systemctl", "--user", "stop", sf.UNIT_NAME))
            said.append("stopped the ragd service (systemctl --user stop)")
        # on macOS SIGTERM alone would not do: KeepAlive restarts an agent that did not exit 0
        elif service == "launchd" and self.run(("launchctl", "bootout", f"gui/{self.uid}/{sf.LABEL}")).returncode == 0:
            said.append("stopped the ragd agent (launchctl bootout)")
        if isinstance(pid, int) and pid > 0 and pid_alive(pid):  # not the service's: a `ragd serve` of its own
            os.kill(pid, signal.SIGTERM)
            said.append(f"sent SIGTERM to the daemon (pid {pid})")
        return "; ".join(said) or NOT_RUNNING

    def _check(self, argv: Sequence[str]) -> None:
        result = self.run(argv)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout or "").strip()
            raise RagdError(f"`{' '.join(argv)}` failed (exit {result.returncode}): {detail}")


def _default_argv(command: str) -> list[str]:
    from ragd.daemon.install.steps import ragd_argv

    return ragd_argv(command)
