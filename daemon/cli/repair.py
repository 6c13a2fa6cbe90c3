"""``ragd repair``: rebuild a damaged store from the files and the embedding cache."""

from __future__ import annotations

import click

from ragd.daemon.cli.common import emit, progress_bar, service_of


@click.command("repair")
@click.option("--json", "as_json", is_flag=True, help="Print {repairs, indexed, failed, chunks} as JSON.")
@click.pass_context
def repair_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check the index's stores; move a damaged one aside and rebuild it from your files and the embedding
    cache (the question history is kept)."""
    service = service_of(ctx)
    with progress_bar(as_json) as progress:
        report = service.repair(progress)
    if as_json:
        emit(report.to_json())
        return
    for r in report.repairs:
        moved = f" (the damaged copy is {r['moved_to']})" if r.get("moved_to") else ""
        click.echo(f"{r['store']}: damaged ({r['problem']}); {r['action']}{moved}")
    if not report.repairs:
        click.echo("the catalog and the vector store are sound; nothing to repair")
    click.echo(f"index: {report.indexed} files indexed, {report.failed} failed; {report.chunks} chunks")
