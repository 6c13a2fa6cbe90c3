"""The ``ragd`` command line. User errors print one line and exit 1; data commands take --json."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from typing import Any

import click

from ragd.daemon import config as config_mod
from ragd.daemon.cli.history import history_cmd
from ragd.daemon.cli.llm import doctor_cmd, models_cmd
from ragd.daemon.cli.serve import serve
from ragd.daemon.cli.service import service_cmd
from ragd.daemon.cli.tray import tray_cmd
from ragd.index import private
from ragd.index.errors import RagdError
from ragd.index.store.health import is_corruption


class _Group(click.Group):
    """Turns user errors into one clear line and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagdError as exc:
            click.echo(f"ragd: {exc}", err=True)
            ctx.exit(1)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            click.echo(f"ragd: the index is damaged ({exc}); `ragd repair` rebuilds it from your files", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("ragd: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """ragd: ask your own files, on your own machine."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("chromadb", "httpx", "sentence_transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    ctx.obj = config_mod.load(os.environ)
    private.start(ctx.obj, os.environ)  # umask 077; refuse folders others can write to; tighten old files


# the commands, one module each, attach to the group defined above
from ragd.daemon.cli.ask import ask  # noqa: E402
from ragd.daemon.cli.chat import chat_cmd  # noqa: E402
from ragd.daemon.cli.config import config_cmd  # noqa: E402
from ragd.daemon.cli.index import index  # noqa: E402
from ragd.daemon.cli.open import open_cmd  # noqa: E402
from ragd.daemon.cli.repair import repair_cmd  # noqa: E402
from ragd.daemon.cli.search import search  # noqa: E402
from ragd.daemon.cli.sources import sources  # noqa: E402
from ragd.daemon.cli.status import status  # noqa: E402
from ragd.daemon.cli.verify import verify_cmd  # noqa: E402

for command in (index, search, ask, chat_cmd, sources, status, verify_cmd, repair_cmd, open_cmd, models_cmd, doctor_cmd,
                history_cmd, serve, service_cmd, tray_cmd, config_cmd):
    main.add_command(command)
