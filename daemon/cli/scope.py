"""The filters ``search``, ``ask`` and ``chat`` share: ``--in``, ``--type``, ``--since``, ``--until``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from ragd.index.scope import GLOB_CHARS, TYPE_GROUPS, Scope, ScopeError, scope_of

F = TypeVar("F", bound=Callable[..., Any])


def scope_options(command: F) -> F:
    """Add the filter options to a command; it receives them as ``within``, ``types``, ``since``, ``until``."""
    for option in reversed((
        click.option("--in", "within", multiple=True, metavar="FOLDER|GLOB",
                     help="Only files under this folder, matching this path glob ('*/2024/*.pdf'), or in a folder "
                          "of this name; repeat for any of several."),
        click.option("--type", "types", multiple=True, metavar="TYPE",
                     help=f"Only these file types: extensions (pdf, md,txt) or kinds ({', '.join(TYPE_GROUPS)})."),
        click.option("--since", metavar="WHEN", help="Only files modified at or after: 2024-03-01, 2024-03, today, "
                                                     "yesterday, 7d, 2w."),
        click.option("--until", metavar="WHEN", help="Only files modified before (a date alone: through its end)."),
    )):
        command = option(command)
    return command


def local_place(place: str) -> str:
    """A folder given on the command line as the index knows it: absolute when it exists here (the daemon's
    working directory is not the user's); globs and bare folder names are kept as typed."""
    if "://" in place or (GLOB_CHARS.search(place) and not os.path.exists(os.path.expanduser(place))):
        return place
    path = os.path.expanduser(place)
    if os.path.exists(path) or path.startswith(("/", "./", "../")) or place.startswith("~"):
        return os.path.realpath(path)
    return place


def scope_from(within: Sequence[str], types: Sequence[str], since: str | None, until: str | None,
               paths: Sequence[str] = ()) -> Scope:
    try:
        return scope_of(within=[local_place(p) for p in within], types=types, since=since, until=until,
                        paths=[p if "://" in p else os.path.realpath(os.path.expanduser(p)) for p in paths])
    except ScopeError as exc:
        raise click.UsageError(str(exc)) from None
