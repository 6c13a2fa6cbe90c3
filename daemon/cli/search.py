"""``ragd search``: hits with their places, or JSON (one list per line for queries on stdin)."""

from __future__ import annotations

import sys

import click

from ragd.daemon.cli.common import emit, service_of, snippet
from ragd.daemon.cli.scope import scope_from, scope_options
from ragd.index.location import cited_of
from ragd.index.models import MODES, Hit, Mode


@click.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 100), help="How many hits.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@scope_options
@click.pass_context
def search(ctx: click.Context, query: str, k: int, mode: Mode, as_json: bool, within: tuple[str, ...],
           types: tuple[str, ...], since: str | None, until: str | None) -> None:
    """Search the index (or some of its files: --in, --type, --since, --until). With - as QUERY, read one query
    per line and print one JSON list per line."""
    scope = scope_from(within, types, since, until)
    service = service_of(ctx, warn=True)

    def find(text: str) -> list[Hit]:
        return service.search(text, k, mode, scope) if text.strip() else []

    if query == "-":
        for line in sys.stdin:
            emit([h.to_json() for h in find(line.strip())])
            sys.stdout.flush()
        return
    hits = find(query)
    if as_json:
        emit([h.to_json() for h in hits])
        return
    if not hits:
        click.echo(f"no matches ({scope.describe()})" if scope else "no matches")
    for i, h in enumerate(hits, 1):
        click.echo(click.style(f"[{i}] {cited_of(h)}", bold=True)
                   + f"  score {h.score:.4f}")
        click.echo(f"    {snippet(h.text, 300)}")
