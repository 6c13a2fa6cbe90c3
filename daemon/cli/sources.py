"""``ragd sources``: the indexed folders; ``ragd sources remove``."""

from __future__ import annotations

import click

from ragd.daemon.cli.common import emit, service_of
from ragd.index.paths import resolve_paths


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """List the indexed folders (or add/remove one)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = service_of(ctx).sources()
    if as_json:
        emit([r.to_json() for r in rows])
        return
    if not rows:
        click.echo("no sources yet: `ragd index FOLDER` adds one")
    for r in rows:
        notes = [f"{r.files} files", *(["MISSING"] if not r.exists else []),
                 *([f"not watched: {r.problem}"] if r.problem else [])]
        click.echo(f"{r.path}  ({', '.join(notes)})")


@sources.command("remove")
@click.argument("path", type=click.Path())
@click.pass_context
def sources_remove(ctx: click.Context, path: str) -> None:
    """Stop indexing PATH and drop its files from the index."""
    root = resolve_paths([path])[0]
    dropped = service_of(ctx).remove_source(root)
    click.echo(f"removed {root} ({dropped} files dropped from the index)")
