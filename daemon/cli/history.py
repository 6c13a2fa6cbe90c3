"""``ragd history``: the questions asked before, their answers and citations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ragd.daemon.cli.answer_text import marked_answer
from ragd.daemon.cli.common import emit, snippet
from ragd.daemon.config import Config
from ragd.index.answer.history import History, HistoryEntry, HistoryError
from ragd.index.location import place_of

PREVIEW_CHARS = 200


def _path(ctx: click.Context) -> Path:
    cfg: Config = ctx.obj
    return cfg.history_path


def _local(entry: HistoryEntry, seconds: bool = False) -> str:
    return entry.when.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _where(citation: dict[str, Any]) -> str:
    return place_of(citation)


def _cited(entry: HistoryEntry) -> str:
    """Each cited path once, with its pages/lines: ``a.pdf (p. 3; p. 5), b.md (lines 4-9)``."""
    places: dict[str, list[str]] = {}
    for c in entry.citations:
        spots = places.setdefault(str(c.get("path", "")), [])
        where = _where(c)
        if where and where not in spots:
            spots.append(where)
    return ", ".join(f"{path} ({'; '.join(spots)})" if spots else path for path, spots in places.items())


def _mark(entry: HistoryEntry) -> str:
    return click.style("✓", fg="green") if entry.grounded else click.style("✗", fg="yellow")


@click.group("history", invoke_without_command=True)
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 100000), help="How many entries.")
@click.option("--search", metavar="TEXT", help="Only entries whose question or answer contains TEXT.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of entries.")
@click.pass_context
def history_cmd(ctx: click.Context, limit: int, search: str | None, as_json: bool) -> None:
    """Questions asked before, newest first (or show/delete/clear entries)."""
    if ctx.invoked_subcommand is not None:
        return
    cfg: Config = ctx.obj
    if not cfg.history.enabled:
        message = "history is off (set [history] enabled = true)"
        if as_json:
            emit([])
        click.echo(message, err=as_json)
        return
    with History(_path(ctx), readonly=True) as history:
        entries = history.recent(limit, search)
    if as_json:
        emit([e.to_json() for e in entries])
        return
    if not entries:
        click.echo("no matching history entries" if search else "no history yet: `ragd ask` adds to it")
    for e in entries:
        click.echo(click.style(f"#{e.id}", bold=True) + f"  {_local(e)}  {_mark(e)}  " + click.style(e.question,
                                                                                                   bold=True))
        click.echo(f"    {snippet(e.answer, PREVIEW_CHARS)}")
        cited = _cited(e)
        if cited:
            click.echo(f"    sources: {cited}")


@history_cmd.command("show")
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def history_show(ctx: click.Context, entry_id: int, as_json: bool) -> None:
    """The full answer of entry ID, with its citations and quotes."""
    with History(_path(ctx), readonly=True) as history:
        entry = history.get(entry_id)
    if entry is None:
        raise HistoryError(f"no history entry {entry_id}")
    if as_json:
        emit(entry.to_json())
        return
    grounded = "grounded" if entry.grounded else "not grounded in your files"
    click.echo(click.style(f"#{entry.id}", bold=True) + f"  {_local(entry, seconds=True)}  {_mark(entry)} {grounded}"
               + (f"  model {entry.model}" if entry.model else ""))
    click.echo(click.style(f"Q: {entry.question}", bold=True))
    click.echo()
    click.echo(marked_answer(entry.to_json()) if entry.grounded else entry.answer)
    for c in entry.citations:
        where = _where(c)
        click.echo()
        click.echo(click.style(f"[{c.get('n')}] {c.get('path')}", bold=True) + (f" ({where})" if where else ""))
        quote = " ".join(str(c.get("quote", "")).split())
        if quote:
            click.echo(f"    “{quote}”")
    if "total" in entry.timings:
        click.echo()
        click.echo(f"answered in {entry.timings['total']:.2f} s")


@history_cmd.command("delete")
@click.argument("entry_id", metavar="ID", type=int)
@click.pass_context
def history_delete(ctx: click.Context, entry_id: int) -> None:
    """Delete entry ID."""
    with History(_path(ctx)) as history:
        if not history.delete(entry_id):
            raise HistoryError(f"no history entry {entry_id}")
    click.echo(f"deleted history entry {entry_id}")


@history_cmd.command("clear")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def history_clear(ctx: click.Context, yes: bool) -> None:
    """Delete every history entry."""
    with History(_path(ctx)) as history:
        count = history.count()
        if count and not yes:
            click.confirm(f"delete all {count} history entries?", abort=True)
        removed = history.clear()
    click.echo(f"removed {removed} history {'entry' if removed == 1 else 'entries'}")
