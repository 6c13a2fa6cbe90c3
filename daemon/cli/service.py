"""``ragd service``: start the daemon at login (a systemd user unit on Linux, a LaunchAgent on macOS),
and with ``--tray`` the tray icon too (an XDG autostart entry on Linux, a LaunchAgent on macOS).

The steps live in ``ragd.daemon.install``; this module only says what they will do and does it.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from ragd.daemon.config import Config
from ragd.daemon.install import files as sf
from ragd.daemon.install.steps import current_plan, current_tray_plan, install, run_command, uninstall


def _show(title: str, steps: Sequence[sf.Step]) -> None:
    if steps:
        click.echo(title)
        for step in steps:
            click.echo(f"  {shlex.join(step.argv)}")


def _plan(ctx: click.Context) -> sf.Plan:
    cfg: Config = ctx.obj
    return current_plan(cfg, Path.home(), sys.platform, os.environ, os.getuid())


def _tray_plan() -> sf.Plan:
    return current_tray_plan(Path.home(), sys.platform, os.environ, os.getuid())


def _after_install(plan: sf.Plan) -> str:
    if plan.manager == "systemd":
        return ("ragd now starts at login. Logs: journalctl --user -u ragd. "
                "To keep it running while logged out: loginctl enable-linger")
    return f"ragd now starts at login. Logs: {sf.log_dir(Path.home())}"


def _after_tray_install(plan: sf.Plan) -> str:
    if plan.manager == "systemd":
        return "The tray icon starts with your next desktop session; to start it now: ragd tray &"
    return "The menu-bar icon is running and starts at login."


def _show_install(plan: sf.Plan) -> None:
    if plan.make_dirs:
        click.echo(f"would create (if missing): {', '.join(str(d) for d in plan.make_dirs)}")
    click.echo(f"would write {plan.target} (mode 0644):")
    click.echo(plan.content.decode(), nl=False)
    _show("would run:", plan.install)


def _show_uninstall(plan: sf.Plan) -> None:
    _show("would run:", plan.remove_before)
    click.echo(f"would remove {plan.target}")
    _show("then run:", plan.remove_after)


@click.group("service")
def service_cmd() -> None:
    """Start the daemon at login (systemd user unit on Linux, LaunchAgent on macOS)."""


@service_cmd.command("install")
@click.option("--dry-run", is_flag=True, help="Print the file and the commands; change nothing.")
@click.option("--tray", is_flag=True, help="Also start the tray icon at login.")
@click.pass_context
def install_cmd(ctx: click.Context, dry_run: bool, tray: bool) -> None:
    """Install and start the service (a reinstall replaces the file and restarts it)."""
    plans = [_plan(ctx), *([_tray_plan()] if tray else [])]
    if dry_run:
        for plan in plans:
            _show_install(plan)
        return
    daemon, *rest = plans
    install(daemon, run_command, click.echo)
    click.echo(_after_install(daemon))
    for plan in rest:
        install(plan, run_command, click.echo)
        click.echo(_after_tray_install(plan))


@service_cmd.command("uninstall")
@click.option("--dry-run", is_flag=True, help="Print the commands and the file to remove; change nothing.")
@click.option("--tray", is_flag=True, help="Remove only the tray icon's login item; the service stays.")
@click.pass_context
def uninstall_cmd(ctx: click.Context, dry_run: bool, tray: bool) -> None:
    """Stop the service and remove it, and the tray's login item if there is one (the index and settings stay)."""
    tray_plan = _tray_plan()
    # without --tray the tray's login item goes with the service, if it was installed
    plans = [tray_plan] if tray else [_plan(ctx), *([tray_plan] if tray_plan.target.exists() else [])]
    for plan in plans:
        if dry_run:
            _show_uninstall(plan)
        else:
            uninstall(plan, run_command, click.echo)


@service_cmd.command("status")
@click.option("--dry-run", is_flag=True, help="Print the command; run nothing.")
@click.pass_context
def status_cmd(ctx: click.Context, dry_run: bool) -> None:
    """Show whether the service is installed and running (exit status is the service manager's)."""
    plan, tray = _plan(ctx), _tray_plan()
    click.echo(f"{plan.target}: {'installed' if plan.target.exists() else 'not installed'}")
    click.echo(f"{tray.target} (the tray): {'installed' if tray.target.exists() else 'not installed'}")
    if dry_run:
        _show("would run:", plan.status)
        return
    code = 0
    for step in plan.status:
        result = run_command(step.argv)
        click.echo((result.stdout + result.stderr).rstrip())
        code = code or result.returncode
    ctx.exit(code)
