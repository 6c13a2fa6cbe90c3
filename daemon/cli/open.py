"""``ragd open``: the web page, signed in through a one-time link."""

from __future__ import annotations

import click

from ragd.daemon.cli.common import service_of


@click.command("open")
@click.option("--view", type=click.Choice(["ask", "sources", "history"]), default="ask", show_default=True)
@click.option("--print-url", is_flag=True, help="Print the one-time link instead of opening a browser.")
@click.pass_context
def open_cmd(ctx: click.Context, view: str, print_url: bool) -> None:
    """Open the web page, signed in through a one-time link (the page never sees the API token)."""
    url = service_of(ctx).page_link(f"/#{view}")
    if print_url:
        click.echo(url)
        return
    import webbrowser

    if not webbrowser.open(url):
        click.echo(f"no browser found; open this link (it works once): {url}")
