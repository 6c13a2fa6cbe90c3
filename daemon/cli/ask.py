"""``ragd ask``: the answer streamed as the model writes it, then checked against the files, with its sources."""

from __future__ import annotations

import sys

import click

from ragd.daemon.cli.answer_text import marked_answer
from ragd.daemon.cli.common import emit, service_of, snippet
from ragd.index.answer.models import Answer
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


@click.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True,
              help="Print {answer, grounded, supported_share, sentences, citations, timings} as one JSON object.")
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool) -> None:
    """Answer QUESTION from your files, with citations. With - as QUESTION, read one question per line
    and print one JSON object per line."""
    if question != "-" and not question.strip():
        raise click.UsageError("the question is empty")
    service = service_of(ctx, warn=True)
    if question == "-":
        for line in sys.stdin:
            if line.strip():
                emit(service.ask(line.strip()).to_json())
                sys.stdout.flush()
        return
    streamed: list[str] = []

    def show(piece: str) -> None:
        streamed.append(piece)
        click.echo(piece, nl=False)
        sys.stdout.flush()

    answer = service.ask(question, None if as_json else show)
    if as_json:
        emit(answer.to_json())
        return
    shown = "".join(streamed).strip()
    data = answer.to_json()
    checked = [s for s in answer.sentences if s.support != "supported"]
    if shown and shown != answer.answer:
        why = ("some of it is not found in your files" if answer.left_out else
               "ragd could not match it to your files; it is not shown as one")
        click.echo(click.style(f"\n\n(The answer as checked: {why}.)", fg="yellow"))
        click.echo(marked_answer(data))
    elif checked:
        click.echo(click.style("\n\nChecked against your files:", bold=True))
        click.echo(marked_answer(data))
    else:
        click.echo()
    print_sources(answer)
