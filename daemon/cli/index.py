"""``ragd index``: add folders and bring the index up to date."""

from __future__ import annotations

import os

import click

from ragd.daemon.cli.common import emit, progress_bar, service_of
from ragd.index.errors import SourceError
from ragd.index.paths import is_url, resolve_paths


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print what the run did as one JSON object.")
@click.pass_context
def index(ctx: click.Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Add PATHS as sources (if given) and bring the index up to date.

    A path is a folder or a file; a mailbox is imap://user@host/Mailbox (its password from the keyring or
    RAGD_IMAP_PASSWORD, never the command line)."""
    roots = resolve_paths(paths)
    for root in roots:
        if not is_url(root) and not os.path.exists(root):
            raise SourceError(f"no such file or directory: {root}")
    service = service_of(ctx)
    with progress_bar(as_json) as progress:
        stats = service.index(roots, progress)
    if as_json:
        emit(stats.to_json())
        return
    through = " (through the daemon)" if service.url else ""
    click.echo(f"{stats.files_indexed} indexed, {stats.files_unchanged} unchanged, {stats.files_failed} failed, "
               f"{stats.files_skipped} skipped, {stats.files_removed} removed; "
               f"{stats.chunks_embedded} chunks embedded in {stats.seconds:.1f} s{through}")
    for failure in stats.failures[:20]:
        click.echo(f"  failed: {failure['path']}: {failure['reason']}")
