"""``ragd verify``: do the manifest, the lexical index and the vector store agree?"""

from __future__ import annotations

import click

from ragd.daemon.cli.common import emit, service_of


@click.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check that the manifest, the lexical index and the vector store agree (exit 1 if not)."""
    problems = service_of(ctx).verify()
    if as_json:
        emit({"ok": not problems, "problems": problems})
    else:
        click.echo("ok: manifest and stores agree" if not problems else "\n".join(problems))
    if problems:
        ctx.exit(1)
