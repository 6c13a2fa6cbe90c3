"""The daemon as a login service: the systemd user unit, the macOS LaunchAgent, and the commands
that install, remove and inspect them; the tray icon as a login item (an XDG autostart entry on Linux,
a LaunchAgent in the Aqua session on macOS). Pure functions only; ``cli_service`` does the writing and running.

The templates live here so that an installed package can render them; ``systemd/ragd.service`` and
``launchd/io.ragd.daemon.plist`` in the source tree are examples rendered by :func:`samples`
(a test keeps them equal). Regenerate them with::

    python -c "from ragd.daemon.install.files import write_samples; write_samples()"
"""

from __future__ import annotations

import plistlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Literal

from ragd.index.errors import RagdError

UNIT_NAME = "ragd.service"
LABEL = "io.ragd.daemon"
TRAY_LABEL = "io.ragd.tray"
TRAY_DESKTOP = "ragd-tray.desktop"
# Set in the service whatever the user's shell has: offline models, unbuffered logs.
BASE_ENV = {"PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
# Copied from the installing shell, so that the service uses the same config, data and state folders.
LOCATION_VARS = ("RAGD_HOME", "RAGD_CONFIG", "RAGD_DATA_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")

Manager = Literal["systemd", "launchd"]

# string.Template placeholders: ${exec}, ${environment}, ${rw_paths}; values are quoted by _unit_word.
UNIT_TEMPLATE = Template("""\
# ragd, the personal RAG daemon, as a systemd user service. Written by `ragd service install`;
# the template is in ragd/daemon/install/files.py (systemd/ragd.service is an example for /home/alice).
[Unit]
Description=ragd personal RAG daemon

[Service]
Type=simple
ExecStart=${exec}
Restart=on-failure
RestartSec=5
Environment=${environment}

# Sandbox: the daemon reads the user's folders but writes only its data and state folders.
# A user manager can set up the file system namespaces below only inside a user namespace (PrivateUsers).
# If the service fails with status=226/NAMESPACE, the kernel forbids unprivileged user namespaces:
# remove the lines from PrivateUsers= to ProtectControlGroups= (or allow those namespaces).
PrivateUsers=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=${rw_paths}
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
# These are seccomp filters and process flags, available to user services everywhere.
NoNewPrivileges=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictRealtime=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6

# Network: loopback only. If your Chroma server or OpenAI-compatible LLM server runs on another
# machine, widen IPAddressAllow= (e.g. IPAddressAllow=localhost 192.168.1.20). systemd enforces this
# only where the service manager may attach cgroup BPF filters (user managers usually may not);
# elsewhere it is skipped, and the daemon's own loopback-only listening address is the guard.
IPAddressDeny=any
IPAddressAllow=localhost

[Install]
WantedBy=default.target
""")


@dataclass(frozen=True)
class Step:
    """One command of a plan; ``may_fail`` for those whose failure only means "nothing to undo"."""

    argv: tuple[str, ...]
    may_fail: bool = False


@dataclass(frozen=True)
class Plan:
    """Everything install / uninstall / status do on one platform, decided before anything runs."""

    manager: Manager
    target: Path  # the unit or plist file
    content: bytes
    make_dirs: tuple[Path, ...]  # created (0700) before the service starts
    install: tuple[Step, ...]  # after the file is written
    remove_before: tuple[Step, ...]  # before the file is removed
    remove_after: tuple[Step, ...]  # after the file is removed
    status: tuple[Step, ...]


def manager_for(platform: str) -> Manager:
    if platform.startswith("linux"):
        return "systemd"
    if platform == "darwin":
        return "launchd"
    raise RagdError(f"no service manager for {platform} (ragd supports systemd on Linux and launchd on macOS)")


def unit_path(home: Path) -> Path:
    return home / ".config" / "systemd" / "user" / UNIT_NAME


def plist_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def log_dir(home: Path) -> Path:
    return home / "Library" / "Logs" / "ragd"


def autostart_path(home: Path) -> Path:
    """The tray's XDG autostart entry (desktop sessions start what is in ``~/.config/autostart``)."""
    return home / ".config" / "autostart" / TRAY_DESKTOP


def tray_plist_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{TRAY_LABEL}.plist"


def ragd_argv(python: Path, script: Path | None, *args: str) -> list[str]:
    """A ``ragd`` command line: the ``ragd`` script when there is one, else ``python -m ragd.daemon``."""
    if script is not None:
        return [str(script), *args]
    return [str(python), "-m", "ragd.daemon", *args]


def serve_argv(python: Path, script: Path | None) -> list[str]:
    """The command the service runs."""
    return ragd_argv(python, script, "serve")


def location_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The folder-choosing variables set in ``environ``, as absolute paths."""
    return {k: str(Path(environ[k]).expanduser().absolute()) for k in LOCATION_VARS if environ.get(k)}


def _unit_word(value: str, *, exec_line: bool = False) -> str:
    """One word of a unit setting: specifiers (``%``), backslashes and quotes escaped; quoted if needed."""
    if not value or any(ord(c) < 32 or c == "\x7f" for c in value):
        raise RagdError(f"cannot write {value!r} into a systemd unit")
    word = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if exec_line:
        word = word.replace("$", "$$")  # ExecStart= expands $VARS; the others do not
    return f'"{word}"' if any(c in value for c in " \t'\"\\") else word


def render_unit(argv: Sequence[str], data_dir: Path, state_dir: Path, env: Mapping[str, str]) -> str:
    dirs = dict.fromkeys(str(p) for p in (data_dir, state_dir))  # the same folder once
    return UNIT_TEMPLATE.substitute(
        exec=" ".join(_unit_word(a, exec_line=True) for a in argv),
        environment=" ".join(_unit_word(f"{k}={v}") for k, v in {**BASE_ENV, **env}.items()),
        rw_paths=" ".join(_unit_word(d) for d in dirs),
    )


def render_plist(argv: Sequence[str], home: Path, env: Mapping[str, str]) -> bytes:
    """The LaunchAgent. plistlib writes the XML, so paths need no escaping here."""
    agent = {
        "Label": LABEL,
        "ProgramArguments": list(argv),
        "EnvironmentVariables": {**BASE_ENV, **env},
        "WorkingDirectory": str(home),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a crash, not after a clean stop
        "ThrottleInterval": 5,
        "StandardOutPath": str(log_dir(home) / "ragd.out.log"),
        "StandardErrorPath": str(log_dir(home) / "ragd.err.log"),
    }
    return plistlib.dumps(agent, sort_keys=False)


# Characters that make a desktop entry's Exec= argument need quotes (Desktop Entry Specification, "The Exec key").
_EXEC_RESERVED = frozenset(" \"'\\><~|&;$*?#`()")


def _exec_word(value: str) -> str:
    """One argument of a desktop entry's Exec=: quoted if needed, ``%`` doubled, then backslashes escaped
    once more for the string value (so one literal backslash in a quoted argument is four)."""
    if not value or any(ord(c) < 32 or c == "\x7f" for c in value):
        raise RagdError(f"cannot write {value!r} into a desktop entry")
    word = value
    if any(c in _EXEC_RESERVED for c in value):
        word = '"' + "".join("\\" + c if c in '"`$\\' else c for c in value) + '"'
    return word.replace("%", "%%").replace("\\", "\\\\")


def render_desktop_entry(argv: Sequence[str], env: Mapping[str, str]) -> str:
    """The tray's autostart entry; the folder-choosing variables go through ``env`` on the Exec line."""
    words = ["env", *(f"{k}={v}" for k, v in env.items()), *argv] if env else list(argv)
    return (
        "[Desktop Entry]\n"
        "# Written by `ragd service install --tray`; removed by `ragd service uninstall --tray`.\n"
        "Type=Application\n"
        "Version=1.0\n"
        "Name=ragd tray\n"
        "Comment=Ask your files; pause indexing; start or stop the ragd daemon\n"
        f"Exec={' '.join(_exec_word(w) for w in words)}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def render_tray_plist(argv: Sequence[str], home: Path, env: Mapping[str, str]) -> bytes:
    """The tray's LaunchAgent: started in the user's graphical (Aqua) session, not restarted after Quit."""
    agent = {
        "Label": TRAY_LABEL,
        "ProgramArguments": list(argv),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", **env},
        "WorkingDirectory": str(home),
        "RunAtLoad": True,
        "LimitLoadToSessionType": "Aqua",
        "ProcessType": "Interactive",
        "StandardOutPath": str(log_dir(home) / "tray.out.log"),
        "StandardErrorPath": str(log_dir(home) / "tray.err.log"),
    }
    return plistlib.dumps(agent, sort_keys=False)


def _systemctl(*args: str, may_fail: bool = False) -> Step:
    return Step(("systemctl", "--user", *args), may_fail)


def plan(platform: str, home: Path, uid: int, argv: Sequence[str], data_dir: Path, state_dir: Path,
         env: Mapping[str, str]) -> Plan:
    """What the service commands do for ``platform``, with every path under ``home``."""
    manager = manager_for(platform)
    dirs = (data_dir, state_dir)
    if manager == "systemd":
        return Plan(
            manager, unit_path(home), render_unit(argv, data_dir, state_dir, env).encode(), dirs,
            install=(_systemctl("daemon-reload"), _systemctl("enable", UNIT_NAME), _systemctl("restart", UNIT_NAME)),
            remove_before=(_systemctl("disable", "--now", UNIT_NAME),),
            remove_after=(_systemctl("daemon-reload"),),
            status=(_systemctl("status", "--no-pager", UNIT_NAME),),
        )
    target, domain, service = plist_path(home), f"gui/{uid}", f"gui/{uid}/{LABEL}"
    return Plan(
        manager, target, render_plist(argv, home, env), (*dirs, log_dir(home)),
        # bootout first: bootstrap refuses a label that is already loaded (a reinstall)
        install=(Step(("launchctl", "bootout", service), may_fail=True), Step(("launchctl", "enable", service)),
                 Step(("launchctl", "bootstrap", domain, str(target)))),
        remove_before=(Step(("launchctl", "bootout", service), may_fail=True),),
        remove_after=(),
        status=(Step(("launchctl", "print", service)),),
    )


def tray_plan(platform: str, home: Path, uid: int, argv: Sequence[str], env: Mapping[str, str]) -> Plan:
    """The tray as a login item. On Linux the desktop session starts the autostart entry at the next
    login (nothing to run now); on macOS the agent is bootstrapped into the GUI session at once."""
    manager = manager_for(platform)
    if manager == "systemd":
        return Plan(manager, autostart_path(home), render_desktop_entry(argv, env).encode(), (),
                    install=(), remove_before=(), remove_after=(), status=())
    target, domain, service = tray_plist_path(home), f"gui/{uid}", f"gui/{uid}/{TRAY_LABEL}"
    return Plan(
        manager, target, render_tray_plist(argv, home, env), (log_dir(home),),
        install=(Step(("launchctl", "bootout", service), may_fail=True), Step(("launchctl", "enable", service)),
                 Step(("launchctl", "bootstrap", domain, str(target)))),
        remove_before=(Step(("launchctl", "bootout", service), may_fail=True),),
        remove_after=(),
        status=(Step(("launchctl", "print", service)),),
    )


# The examples checked in under systemd/ and launchd/.
SAMPLE_LINUX = Path("/home/alice")
SAMPLE_MAC = Path("/Users/alice")


def samples() -> dict[str, bytes]:
    """Source-tree path -> the example rendered for alice (the paths platformdirs gives by default)."""
    linux = SAMPLE_LINUX
    unit = render_unit([str(linux / ".local/bin/ragd"), "serve"], linux / ".local/share/ragd",
                       linux / ".local/state/ragd", {})
    mac = SAMPLE_MAC
    agent = render_plist([str(mac / ".local/bin/ragd"), "serve"], mac, {})
    return {f"systemd/{UNIT_NAME}": unit.encode(), f"launchd/{LABEL}.plist": agent}


def write_samples(root: Path = Path()) -> None:
    for rel, content in samples().items():
        (root / rel).write_bytes(content)
