"""``ragd ask``: the answer streamed as the model writes it, then checked against the files, with its sources."""

from __future__ import annotations

import sys

import click

from ragd.daemon.cli.answer_text import marked_answer
from ragd.daemon.cli.common import emit, service_of, snippet
from ragd.daemon.cli.scope import scope_from, scope_options
from ragd.daemon.service import Service
from ragd.index.answer.conversations import ConversationError, checked_id
from ragd.index.answer.looping import cut_short
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.location import cited_of


def print_sources(answer: Answer) -> None:
    if answer.citations:
        click.echo(click.style("\nSources:", bold=True))
        for cit in answer.citations:
            click.echo(f"[{cit.n}] {cited_of(cit)}")
            click.echo(f"    “{cit.quote}”")
    if answer.nearest:
        click.echo(click.style("\nNearest passages:", bold=True))
        for i, h in enumerate(answer.nearest, 1):
            click.echo(f"[{i}] {cited_of(h)}")
            click.echo(f"    {snippet(h.text, 240)}")


def answer_in_terminal(service: Service, question: str, options: AskOptions) -> Answer:
    """Stream the answer, then show it as checked (unsupported sentences marked) and its sources."""
    streamed: list[str] = []

    def show(piece: str) -> None:
        streamed.append(piece)
        click.echo(piece, nl=False)
        sys.stdout.flush()

    answer = service.ask(question, show, options)
    shown = "".join(streamed).strip()
    data = answer.to_json()
    checked = [s for s in answer.sentences if s.support != "supported"]
    if shown and shown != answer.answer:
        why = ("some of it is not found in your files" if answer.left_out else
               "the model began repeating itself; the repeats are left out" if cut_short(shown, answer.answer) else
               "ragd could not match it to your files; it is not shown as one")
        click.echo(click.style(f"\n\n(The answer as checked: {why}.)", fg="yellow"))
        click.echo(marked_answer(data))
    elif not shown:
        click.echo(marked_answer(data))
    elif checked:
        click.echo(click.style("\n\nChecked against your files:", bold=True))
        click.echo(marked_answer(data))
    else:
        click.echo()
    if answer.searched and answer.searched != answer.question:
        click.echo(click.style(f"(searched for: {answer.searched})", dim=True))
    if answer.scope:
        click.echo(click.style(f"(within: {answer.scope.describe()})", dim=True))
    print_sources(answer)
    if answer.notice:
        click.echo(click.style(f"\n({answer.notice})", fg="yellow"))
    return answer


def conversation_option(value: str | None) -> str | None:
    try:
        return None if value is None else checked_id(value)
    except ConversationError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True,
              help="Print {answer, grounded, supported_share, sentences, citations, searched, timings} as one JSON "
                   "object.")
@click.option("--conversation", metavar="ID", callback=lambda _c, _p, v: conversation_option(v),
              help="Ask as a turn of this conversation (see `ragd chat`; a new id starts one): a follow-up is "
                   "searched in its standalone form.")
@click.option("--file", "files", multiple=True, metavar="PATH",
              help="Ask about this indexed file as a whole ('summarise it', 'what does it say about X'; repeat to "
                   "compare files): every passage is read, in passes that fit the model, not a top-k sample.")
@scope_options
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool, conversation: str | None, files: tuple[str, ...],
        within: tuple[str, ...], types: tuple[str, ...], since: str | None, until: str | None) -> None:
    """Answer QUESTION from your files, with citations. With - as QUESTION, read one question per line
    and print one JSON object per line (with --conversation, each a turn of it)."""
    if question != "-" and not question.strip():
        raise click.UsageError("the question is empty")
    options = AskOptions(scope=scope_from(within, types, since, until, files), conversation=conversation)
    service = service_of(ctx, warn=True)
    if question == "-":
        for line in sys.stdin:
            if line.strip():
                emit(service.ask(line.strip(), None, options).to_json())
                sys.stdout.flush()
        return
    if as_json:
        emit(service.ask(question, None, options).to_json())
        return
    answer_in_terminal(service, question, options)
