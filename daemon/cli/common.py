"""What the commands share: the service they speak to, JSON output, the progress bar."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import click

from ragd.daemon.service import Progress, Service, connect


def emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def snippet(text: str, limit: int) -> str:
    """``text`` on one line, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return f"{flat[:limit]}{'…' if len(flat) > limit else ''}"


def service_of(ctx: click.Context, *, warn: bool = False) -> Service:
    """The running daemon's, or this process's (see ``connect``); closed with the command. With ``warn``, what
    a person should know before trusting results is said first (on stderr)."""
    service = connect(ctx.obj, os.environ)
    ctx.call_on_close(service.close)
    if warn:
        for notice in service.notices():
            click.echo(f"ragd: warning: {notice}", err=True)
    return service


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), transient=True, console=None) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, path: str) -> None:
            bar.update(task, completed=done, total=total, description=Path(path).name[:40])

        yield update


def progress_bar(as_json: bool) -> AbstractContextManager[Progress | None]:
    return _progress(not as_json and sys.stderr.isatty())
