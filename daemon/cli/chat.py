"""``ragd chat``: a conversation in the terminal. Each question is a turn of one conversation, so follow-ups
("and the beans?") are understood; answers stream as the model writes them and are checked like ``ragd ask``'s.
Line editing and the question history come from readline where Python has it."""

from __future__ import annotations

import contextlib

import click

from ragd.daemon.cli.ask import answer_in_terminal, conversation_option
from ragd.daemon.cli.common import service_of
from ragd.daemon.cli.scope import scope_from, scope_options
from ragd.index.answer.conversations import new_conversation_id
from ragd.index.answer.models import AskOptions
from ragd.index.errors import RagdError

HELP = "Type a question; /new starts a new conversation, /quit (or Ctrl-D) ends."


def _readline() -> None:
    with contextlib.suppress(ImportError):  # not on Windows
        import readline  # noqa: F401  (input() then edits lines and recalls earlier questions)


@click.command("chat")
@click.option("--conversation", metavar="ID", callback=lambda _c, _p, v: conversation_option(v),
              help="Go on with this conversation (its earlier turns are in the history); default: a new one.")
@scope_options
@click.pass_context
def chat_cmd(ctx: click.Context, conversation: str | None, within: tuple[str, ...], types: tuple[str, ...],
             since: str | None, until: str | None) -> None:
    """Ask your files in a conversation: follow-up questions keep what was asked before."""
    scope = scope_from(within, types, since, until)
    service = service_of(ctx, warn=True)
    _readline()
    current = conversation or new_conversation_id()
    click.echo(click.style(f"conversation {current}", dim=True) + f"  ({HELP})")
    while True:
        try:
            question = input("\n? ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            break
        if not question:
            continue
        if question in ("/quit", "/exit"):
            break
        if question == "/new":
            current = new_conversation_id()
            click.echo(click.style(f"conversation {current}", dim=True))
            continue
        try:
            answer_in_terminal(service, question, AskOptions(scope=scope, conversation=current))
        except RagdError as exc:
            click.echo(click.style(f"error: {exc}", fg="red"))
    click.echo(click.style(f"(go on later with: ragd chat --conversation {current})", dim=True))
