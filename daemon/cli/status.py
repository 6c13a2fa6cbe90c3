"""``ragd status``: counts, the daemon's progress, and every file that failed or was skipped."""

from __future__ import annotations

import click

from ragd.daemon import config as config_mod
from ragd.daemon.cli.common import emit, service_of


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Files, chunks, and the files that failed or were skipped, with reasons."""
    data = service_of(ctx).status()
    if as_json:
        emit(data)
        return
    click.echo(f"{data['files']} files ({data['indexed']} indexed, {data['failed']} failed, "
               f"{data['skipped']} skipped), {data['chunks']} chunks; model {data['model'] or '-'}")
    cfg: config_mod.Config = ctx.obj
    if data["daemon"]:
        run = data["indexing"]
        eta = f", about {run['eta_s']:.0f} s left" if run.get("eta_s") else ""
        click.echo(f"daemon: {data['daemon']} ({'paused' if data['paused'] else run['state']}; "
                   f"{run['queued']} queued{eta}); token in {cfg.token_path}")
    else:
        click.echo("daemon: not running (`ragd serve` starts it)")
    for p in data["problems"]:
        click.echo(f"  {p['status']}: {p['path']}: {p['reason']}")
