"""``ragd tray``: the tray / menu-bar icon (see ``ragd.daemon.tray.app``). pystray is imported only when it
runs: on Linux it connects to the display as it is imported."""

from __future__ import annotations

import os

import click

from ragd.daemon.config import Config


@click.command("tray")
@click.pass_context
def tray_cmd(ctx: click.Context) -> None:
    """Show ragd in the system tray / menu bar: its state, Ask…, pause or resume indexing, start or stop
    the daemon. Quit removes the icon; the daemon keeps running. `ragd service install --tray` starts it
    at login."""
    from ragd.daemon.tray.app import run_tray

    config: Config = ctx.obj
    run_tray(config, os.environ)
