"""`ragd service`: the systemd unit and LaunchAgent it renders, and the commands it runs (recorded, never run)."""

from __future__ import annotations

import configparser
import os
import plistlib
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragd.daemon.cli import service as cli_service
from ragd.daemon.cli.service import service_cmd
from ragd.daemon.config import load
from ragd.daemon.install import files as sf
from ragd.daemon.install import steps
from ragd.index.errors import RagdError

REPO = Path(__file__).resolve().parents[1]


class Recorder:
    """Stands in for subprocess: records each command, answers with the given exit codes."""

    def __init__(self, codes: dict[str, int] | None = None, stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.codes = codes or {}
        self.stderr = stderr

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        code = next((c for word, c in self.codes.items() if word in argv), 0)
        return subprocess.CompletedProcess(list(argv), code, "out\n", self.stderr if code else "")


def _unit_sections(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def _linux_plan(tmp_path: Path, env: dict[str, str] | None = None) -> sf.Plan:
    home = tmp_path / "home"
    return sf.plan("linux", home, 1000, ["/opt/ragd/bin/ragd", "serve"], home / "data", home / "state", env or {})


# --- the systemd unit ---------------------------------------------------------------------------


def test_unit_has_the_issue_settings() -> None:
    unit = _unit_sections(sf.samples()["systemd/ragd.service"].decode())
    service = unit["Service"]
    assert service["Type"] == "simple"
    assert service["ExecStart"] == "/home/alice/.local/bin/ragd serve"
    assert service["Restart"] == "on-failure" and int(service["RestartSec"]) > 0
    assert set(service["Environment"].split()) == {"PYTHONUNBUFFERED=1", "HF_HUB_OFFLINE=1"}
    assert service["ProtectSystem"] == "strict" and service["ProtectHome"] == "read-only"
    assert service["ReadWritePaths"].split() == ["/home/alice/.local/share/ragd", "/home/alice/.local/state/ragd"]
    for key in ("PrivateUsers", "NoNewPrivileges", "PrivateTmp", "ProtectKernelTunables", "ProtectControlGroups",
                "RestrictSUIDSGID", "LockPersonality", "RestrictRealtime"):
        assert service[key] == "yes", key
    assert service["SystemCallArchitectures"] == "native"
    assert service["RestrictAddressFamilies"].split() == ["AF_UNIX", "AF_INET", "AF_INET6"]
    assert (service["IPAddressDeny"], service["IPAddressAllow"]) == ("any", "localhost")
    assert unit["Install"]["WantedBy"] == "default.target"
    assert "another\n# machine, widen IPAddressAllow=" in sf.samples()["systemd/ragd.service"].decode()


def test_unit_words_are_escaped_for_systemd() -> None:
    assert sf._unit_word("/a/b") == "/a/b"
    assert sf._unit_word("/my docs/x") == '"/my docs/x"'
    assert sf._unit_word("/100%/$HOME") == "/100%%/$HOME"  # Environment=, ReadWritePaths=: $ is literal
    assert sf._unit_word("/100%/$HOME", exec_line=True) == "/100%%/$$HOME"
    assert sf._unit_word('it\'s "q"\\') == '"it\'s \\"q\\"\\\\"'
    with pytest.raises(RagdError):
        sf._unit_word("/a\nExecStartPre=/bin/evil")


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (package systemd); the unit is not verified here")
    # A real executable behind a path that needs quoting and escaping: verify checks that it exists.
    bindir = tmp_path / "my bin"
    bindir.mkdir()
    (bindir / "py%thon").symlink_to(sys.executable)
    argv = [str(bindir / "py%thon"), "-m", "ragd.daemon", "serve"]
    unit = sf.render_unit(argv, tmp_path / "da ta", tmp_path / "state", {"RAGD_HOME": str(tmp_path / "x y")})
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0"}

    def verify(text: str, name: str) -> subprocess.CompletedProcess[str]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / sf.UNIT_NAME).write_text(text)
        return subprocess.run([analyze, "verify", "--user", str(folder / sf.UNIT_NAME)],
                              capture_output=True, text=True, env=env, timeout=60, check=False)

    good = verify(unit, "good")
    assert good.returncode == 0, good.stderr
    assert sf.UNIT_NAME not in good.stderr, good.stderr  # no warning about our unit, e.g. "Unknown key"
    # The same check notices a broken unit, so the pass above means something.
    bad = verify(unit.replace("Type=simple", "Type=simple\nProtectEverything=yes"), "bad")
    assert "Unknown key" in bad.stderr
    missing = verify(unit.replace("py%%thon", "py%%thonX"), "missing")
    assert missing.returncode != 0 and "py%thonX" in missing.stderr


# --- the LaunchAgent ----------------------------------------------------------------------------


def test_plist_keys() -> None:
    home = Path("/Users/bob")
    agent = plistlib.loads(sf.render_plist(["/opt/x & y/ragd", "serve"], home, {"RAGD_HOME": "/Users/bob/r"}))
    assert agent["Label"] == "io.ragd.daemon"
    assert agent["ProgramArguments"] == ["/opt/x & y/ragd", "serve"]
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["StandardOutPath"] == "/Users/bob/Library/Logs/ragd/ragd.out.log"
    assert agent["StandardErrorPath"] == "/Users/bob/Library/Logs/ragd/ragd.err.log"
    assert agent["EnvironmentVariables"] == {"PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
                                             "RAGD_HOME": "/Users/bob/r"}


def test_sample_plist_is_for_alice() -> None:
    agent = plistlib.loads(sf.samples()["launchd/io.ragd.daemon.plist"])
    assert agent["ProgramArguments"][-1] == "serve"
    assert agent["StandardErrorPath"].startswith("/Users/alice/Library/Logs/ragd/")


# --- checked-in examples ------------------------------------------------------------------------


@pytest.mark.parametrize("rel", ["systemd/ragd.service", "launchd/io.ragd.daemon.plist"])
def test_checked_in_examples_match_the_templates(rel: str) -> None:
    expected = sf.samples()[rel]
    assert (REPO / rel).read_bytes() == expected, (
        f"{rel} is stale: python -c 'from ragd.daemon.install.files import write_samples; write_samples()'")


# --- plans: paths and commands ------------------------------------------------------------------


def test_plan_paths_and_commands_per_platform(tmp_path: Path) -> None:
    home = tmp_path
    linux = sf.plan("linux", home, 501, ["/r", "serve"], home / "d", home / "s", {})
    assert linux.target == home / ".config/systemd/user/ragd.service"
    assert [s.argv for s in linux.status] == [("systemctl", "--user", "status", "--no-pager", "ragd.service")]
    mac = sf.plan("darwin", home, 501, ["/r", "serve"], home / "d", home / "s", {})
    assert mac.target == home / "Library/LaunchAgents/io.ragd.daemon.plist"
    assert [s.argv for s in mac.install][-1] == ("launchctl", "bootstrap", "gui/501", str(mac.target))
    assert [s.argv for s in mac.remove_before] == [("launchctl", "bootout", "gui/501/io.ragd.daemon")]
    assert [s.argv for s in mac.status] == [("launchctl", "print", "gui/501/io.ragd.daemon")]
    assert home / "Library/Logs/ragd" in mac.make_dirs


def test_unsupported_platform_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RagdError, match="no service manager for win32"):
        sf.plan("win32", tmp_path, 0, ["/r", "serve"], tmp_path, tmp_path, {})


def test_serve_argv_and_location_env(tmp_path: Path) -> None:
    assert sf.serve_argv(Path("/v/bin/python"), Path("/v/bin/ragd")) == ["/v/bin/ragd", "serve"]
    assert sf.serve_argv(Path("/v/bin/python"), None) == ["/v/bin/python", "-m", "ragd.daemon", "serve"]
    env = sf.location_env({"RAGD_HOME": "rel", "RAGD_CONFIG": "", "PATH": "/bin", "XDG_STATE_HOME": "/st"})
    assert env == {"RAGD_HOME": str(Path("rel").absolute()), "XDG_STATE_HOME": "/st"}


# --- install / uninstall with recorded commands -------------------------------------------------


def test_install_writes_the_unit_and_runs_systemctl_in_order(tmp_path: Path) -> None:
    plan, run, said = _linux_plan(tmp_path), Recorder(), list[str]()
    steps.install(plan, run, said.append)
    assert plan.target.read_bytes() == plan.content
    assert stat.S_IMODE(plan.target.stat().st_mode) == 0o644
    assert all(d.is_dir() for d in plan.make_dirs)  # ReadWritePaths= must exist
    assert run.calls == [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "ragd.service"],
                         ["systemctl", "--user", "restart", "ragd.service"]]
    assert f"wrote {plan.target}" in said

    plan.target.write_text("stale")  # a reinstall replaces the file
    steps.install(plan, run, said.append)
    assert plan.target.read_bytes() == plan.content
    assert not list(plan.target.parent.glob(".*.tmp"))

    run.calls.clear()
    assert steps.uninstall(plan, run, said.append) is True
    assert not plan.target.exists()
    assert run.calls == [["systemctl", "--user", "disable", "--now", "ragd.service"],
                         ["systemctl", "--user", "daemon-reload"]]
    assert (tmp_path / "home" / "data").is_dir()  # the index stays

    run.calls.clear()
    assert steps.uninstall(plan, run, said.append) is False
    assert run.calls == []


def test_launchd_install_tolerates_bootout_of_an_unloaded_agent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    plan = sf.plan("darwin", home, 501, ["/r", "serve"], home / "d", home / "s", {})
    run = Recorder(codes={"bootout": 3}, stderr="Boot-out failed: 3: No such process")
    steps.install(plan, run, lambda _: None)
    service = "gui/501/io.ragd.daemon"
    assert run.calls == [["launchctl", "bootout", service], ["launchctl", "enable", service],
                         ["launchctl", "bootstrap", "gui/501", str(plan.target)]]
    assert plistlib.loads(plan.target.read_bytes())["Label"] == "io.ragd.daemon"
    assert (home / "Library/Logs/ragd").is_dir()
    run.calls.clear()
    assert steps.uninstall(plan, run, lambda _: None)
    assert run.calls == [["launchctl", "bootout", service]] and not plan.target.exists()


def test_a_failing_command_is_a_ragd_error_with_its_stderr(tmp_path: Path) -> None:
    plan = _linux_plan(tmp_path)
    run = Recorder(codes={"enable": 1}, stderr="Failed to connect to bus: No medium found\n")
    with pytest.raises(RagdError, match=r"systemctl --user enable ragd\.service` failed \(exit 1\): .*No medium found"):
        steps.install(plan, run, lambda _: None)
    assert ["systemctl", "--user", "restart", "ragd.service"] not in run.calls  # stops at the failure


def test_run_command_reports_a_missing_tool() -> None:
    with pytest.raises(RagdError, match="not found"):
        steps.run_command(["ragd-no-such-tool-xyz", "--version"])
    assert steps.run_command([sys.executable, "-c", "import sys; sys.exit(3)"]).returncode == 3


# --- the click commands -------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke `service ...` with HOME and RAGD_HOME in tmp_path, as the platform given."""
    home, ragd_home = tmp_path / "home", tmp_path / "ragd"
    env = {"HOME": str(home), "RAGD_HOME": str(ragd_home), "RAGD_CONFIG": None, "RAGD_DATA_DIR": None,
           "XDG_CONFIG_HOME": None, "XDG_DATA_HOME": None, "XDG_STATE_HOME": None}
    cfg = load({"RAGD_HOME": str(ragd_home)})

    def invoke(platform: str, *args: str):
        monkeypatch.setattr(sys, "platform", platform)
        return CliRunner().invoke(service_cmd, list(args), obj=cfg, env=env)

    return invoke


def test_install_dry_run_prints_and_changes_nothing(cli, tmp_path: Path) -> None:
    result = cli("linux", "install", "--dry-run")
    assert result.exit_code == 0, result.output
    target = tmp_path / "home/.config/systemd/user/ragd.service"
    assert f"would write {target} (mode 0644)" in result.output
    assert "  systemctl --user daemon-reload\n  systemctl --user enable ragd.service\n" in result.output
    assert f"Environment=PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 RAGD_HOME={tmp_path / 'ragd'}" in result.output
    assert f"ReadWritePaths={tmp_path / 'ragd/data'} {tmp_path / 'ragd/state'}" in result.output
    assert "ExecStart=/" in result.output and " serve\n" in result.output
    assert not target.exists() and not (tmp_path / "home").exists() and not (tmp_path / "ragd").exists()

    mac = cli("darwin", "install", "--dry-run")
    plist = tmp_path / "home/Library/LaunchAgents/io.ragd.daemon.plist"
    assert f"launchctl bootstrap gui/{os.getuid()} {plist}" in mac.output
    assert not (tmp_path / "home").exists()


def test_uninstall_and_status_dry_run(cli, tmp_path: Path) -> None:
    result = cli("linux", "uninstall", "--dry-run")
    assert "systemctl --user disable --now ragd.service" in result.output
    assert "would remove" in result.output and result.exit_code == 0
    status = cli("linux", "status", "--dry-run")
    assert "not installed" in status.output and "systemctl --user status --no-pager ragd.service" in status.output
    assert not (tmp_path / "home").exists()


def test_install_status_uninstall_through_the_cli(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = Recorder(codes={"status": 3})
    monkeypatch.setattr(cli_service, "run_command", run)
    installed = cli("linux", "install")
    assert installed.exit_code == 0, installed.output
    target = tmp_path / "home/.config/systemd/user/ragd.service"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert "$ systemctl --user restart ragd.service" in installed.output
    assert "journalctl --user -u ragd" in installed.output

    status = cli("linux", "status")
    assert status.exit_code == 3 and f"{target}: installed" in status.output  # systemctl's code: inactive

    assert cli("linux", "uninstall").exit_code == 0 and not target.exists()
    assert run.calls[-2:] == [["systemctl", "--user", "disable", "--now", "ragd.service"],
                              ["systemctl", "--user", "daemon-reload"]]


def test_install_tray_dry_run_prints_both_files(cli, tmp_path: Path) -> None:
    result = cli("linux", "install", "--tray", "--dry-run")
    assert result.exit_code == 0, result.output
    unit = tmp_path / "home/.config/systemd/user/ragd.service"
    entry = tmp_path / "home/.config/autostart/ragd-tray.desktop"
    assert f"would write {unit} (mode 0644)" in result.output
    assert f"would write {entry} (mode 0644)" in result.output
    exec_start = next(line for line in result.output.splitlines() if line.startswith("ExecStart="))
    exec_tray = next(line for line in result.output.splitlines() if line.startswith("Exec="))
    # the same executable as the unit's, with `tray`; the same folders through env
    assert exec_tray == f"Exec=env RAGD_HOME={tmp_path / 'ragd'} {exec_start[len('ExecStart='):-len(' serve')]} tray"
    assert not (tmp_path / "home").exists()

    mac = cli("darwin", "install", "--tray", "--dry-run")
    agent = tmp_path / "home/Library/LaunchAgents/io.ragd.tray.plist"
    assert f"would write {agent} (mode 0644)" in mac.output and "<string>Aqua</string>" in mac.output
    assert f"launchctl bootstrap gui/{os.getuid()} {agent}" in mac.output
    assert not (tmp_path / "home").exists()


def test_install_and_uninstall_the_tray_through_the_cli(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = Recorder()
    monkeypatch.setattr(cli_service, "run_command", run)
    unit = tmp_path / "home/.config/systemd/user/ragd.service"
    entry = tmp_path / "home/.config/autostart/ragd-tray.desktop"
    installed = cli("linux", "install", "--tray")
    assert installed.exit_code == 0, installed.output
    assert unit.exists() and entry.exists() and stat.S_IMODE(entry.stat().st_mode) == 0o644
    assert "starts with your next desktop session" in installed.output
    assert all(call[0] == "systemctl" for call in run.calls)  # nothing to run for an autostart entry
    desktop = _unit_sections(entry.read_text())["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Exec"].endswith(" tray")

    status = cli("linux", "status", "--dry-run")
    assert f"{entry} (the tray): installed" in status.output

    only_tray = cli("linux", "uninstall", "--tray")
    assert only_tray.exit_code == 0 and not entry.exists() and unit.exists()
    assert cli("linux", "uninstall", "--tray").output.startswith("not installed")

    assert cli("linux", "install", "--tray").exit_code == 0
    run.calls.clear()
    everything = cli("linux", "uninstall")  # the service, and the tray's login item with it
    assert everything.exit_code == 0 and not unit.exists() and not entry.exists()
    assert run.calls == [["systemctl", "--user", "disable", "--now", "ragd.service"],
                         ["systemctl", "--user", "daemon-reload"]]


def test_install_tray_on_macos_bootstraps_both_agents(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = Recorder()
    monkeypatch.setattr(cli_service, "run_command", run)
    result = cli("darwin", "install", "--tray")
    assert result.exit_code == 0, result.output
    uid = os.getuid()
    agent = tmp_path / "home/Library/LaunchAgents/io.ragd.tray.plist"
    assert [c for c in run.calls if c[1] == "bootstrap"] == [
        ["launchctl", "bootstrap", f"gui/{uid}", str(tmp_path / "home/Library/LaunchAgents/io.ragd.daemon.plist")],
        ["launchctl", "bootstrap", f"gui/{uid}", str(agent)]]
    assert plistlib.loads(agent.read_bytes())["ProgramArguments"][-1] == "tray"
    run.calls.clear()
    assert cli("darwin", "uninstall", "--tray").exit_code == 0
    assert run.calls == [["launchctl", "bootout", f"gui/{uid}/io.ragd.tray"]] and not agent.exists()


# --- the tray's login item ----------------------------------------------------------------------


def _parse_exec(value: str) -> list[str]:
    """Exec= as the Desktop Entry Specification reads it: the string escapes first, then words split on
    spaces where double quotes group and, inside them, a backslash escapes " ` $ and itself; then %% is %."""
    text = re.sub(r"\\([\\snrt])", lambda m: {"s": " ", "n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), value)
    words: list[str] = []
    word: str | None = None
    quoted, i = False, 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
            word, i = (word or "") + text[i + 1], i + 2
            continue
        if c == '"':
            quoted, word = not quoted, word or ""
        elif c == " " and not quoted:
            if word is not None:
                words.append(word)
            word = None
        else:
            word = (word or "") + c
        i += 1
    assert not quoted, "unbalanced quotes"
    if word is not None:
        words.append(word)
    return [w.replace("%%", "%") for w in words]


def test_desktop_entry_exec_quoting_round_trips() -> None:
    argv = ["/opt/my apps/ragd", "tray"]
    env = {"RAGD_HOME": '/home/a/it\'s "100%" $HOME `x` \\back'}
    entry = _unit_sections(sf.render_desktop_entry(argv, env))["Desktop Entry"]
    assert _parse_exec(entry["Exec"]) == ["env", f"RAGD_HOME={env['RAGD_HOME']}", *argv]
    assert sf._exec_word("/usr/bin/ragd") == "/usr/bin/ragd"
    assert sf._exec_word("/a b") == '"/a b"'
    assert sf._exec_word("50%") == "50%%"
    assert sf._exec_word("a\\b") == '"a\\\\\\\\b"'  # one backslash, quoted: four in the file
    assert _unit_sections(sf.render_desktop_entry(["/r", "tray"], {}))["Desktop Entry"]["Exec"] == "/r tray"
    with pytest.raises(RagdError):
        sf._exec_word("/a\nX-Evil=1")


def test_desktop_entry_passes_desktop_file_validate(tmp_path: Path) -> None:
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate is not installed (package desktop-file-utils)")

    def check(text: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "ragd-tray.desktop"
        path.write_text(text)
        return subprocess.run([validate, str(path)], capture_output=True, text=True, timeout=60, check=False)

    env = {"RAGD_HOME": '/home/a/it\'s "100%" $HOME `x` \\back (1); a|b'}
    good = check(sf.render_desktop_entry(["/opt/my apps/ragd", "tray"], env))
    assert good.returncode == 0 and not good.stdout.strip(), good.stdout  # neither errors nor warnings
    bad = check(sf.render_desktop_entry(["/r", "tray"], {}).replace("Exec=/r tray", 'Exec=/a b$c "d'))
    assert bad.returncode != 0  # the same check notices a broken Exec=


def test_tray_plist_keys() -> None:
    home = Path("/Users/bob")
    agent = plistlib.loads(sf.render_tray_plist(["/opt/ragd", "tray"], home, {"RAGD_HOME": "/Users/bob/r"}))
    assert agent["Label"] == "io.ragd.tray"
    assert agent["ProgramArguments"] == ["/opt/ragd", "tray"]
    assert agent["RunAtLoad"] is True and "KeepAlive" not in agent  # Quit means quit
    assert agent["LimitLoadToSessionType"] == "Aqua"
    assert agent["EnvironmentVariables"]["RAGD_HOME"] == "/Users/bob/r"
    assert agent["StandardErrorPath"] == "/Users/bob/Library/Logs/ragd/tray.err.log"


def test_tray_plan_per_platform(tmp_path: Path) -> None:
    linux = sf.tray_plan("linux", tmp_path, 501, ["/r", "tray"], {})
    assert linux.target == tmp_path / ".config/autostart/ragd-tray.desktop"
    assert (linux.install, linux.remove_before, linux.remove_after, linux.status) == ((), (), (), ())
    mac = sf.tray_plan("darwin", tmp_path, 501, ["/r", "tray"], {})
    assert mac.target == tmp_path / "Library/LaunchAgents/io.ragd.tray.plist"
    assert [s.argv for s in mac.install] == [("launchctl", "bootout", "gui/501/io.ragd.tray"),
                                             ("launchctl", "enable", "gui/501/io.ragd.tray"),
                                             ("launchctl", "bootstrap", "gui/501", str(mac.target))]
    assert mac.install[0].may_fail and tmp_path / "Library/Logs/ragd" in mac.make_dirs
    assert sf.ragd_argv(Path("/v/bin/python"), None, "tray") == ["/v/bin/python", "-m", "ragd.daemon", "tray"]


def test_cli_on_an_unsupported_platform(cli) -> None:
    result = cli("win32", "install", "--dry-run")
    assert isinstance(result.exception, RagdError)
    assert "no service manager for win32" in str(result.exception)
