"""The ``ragd`` command line. User errors print one line and exit 1; data commands take --json."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ragd.daemon import config as config_mod
from ragd.daemon.cli_history import history_cmd
from ragd.daemon.cli_llm import doctor_cmd, models_cmd
from ragd.daemon.container import Container
from ragd.index.answer.models import Answer
from ragd.index.errors import RagdError, SourceError
from ragd.index.lock import WriterLock
from ragd.index.pipeline import IndexStats, resolve_paths, verify


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


class _Group(click.Group):
    """Turns user errors into one clear line and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagdError as exc:
            click.echo(f"ragd: {exc}", err=True)
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


@contextmanager
def _container(ctx: click.Context, readonly: bool = False) -> Iterator[Container]:
    container = Container(ctx.obj, readonly=readonly)
    try:
        yield container
    finally:
        container.close()


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object.")
@click.pass_context
def index(ctx: click.Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Add PATHS as sources (if given) and bring the index up to date."""
    roots = resolve_paths(paths)
    for root in roots:
        if not os.path.exists(root):
            raise SourceError(f"no such file or directory: {root}")
    with _container(ctx) as c, WriterLock(c.config.lock_path):
        for root in roots:
            c.catalog.add_source(root)
        targets = roots or c.source_paths()
        if not targets:
            raise SourceError("nothing to index yet: give a folder, e.g. `ragd index ~/Documents`")
        show_bar = not as_json and sys.stderr.isatty()
        with _progress(show_bar) as progress:
            stats = c.indexer.run([c.connector(r) for r in targets], prune_outside=not roots, progress=progress)
    if as_json:
        _emit(stats.to_json())
    else:
        _print_stats(stats)


def _print_stats(stats: IndexStats) -> None:
    click.echo(f"{stats.files_indexed} indexed, {stats.files_unchanged} unchanged, {stats.files_failed} failed, "
               f"{stats.files_skipped} skipped, {stats.files_removed} removed; "
               f"{stats.chunks_embedded} chunks embedded in {stats.seconds:.1f} s")
    for failure in stats.failures[:20]:
        click.echo(f"  failed: {failure['path']}: {failure['error']}")


@main.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 200), help="How many hits.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@click.pass_context
def search(ctx: click.Context, query: str, k: int, mode: str, as_json: bool) -> None:
    """Search the index. With - as QUERY, read one query per line and print one JSON list per line."""
    with _container(ctx, readonly=True) as c:
        _warn_model_mismatch(c)
        if query == "-":
            for line in sys.stdin:
                hits = c.retriever.search(line.strip(), k, mode)  # type: ignore[arg-type]
                _emit([h.to_json() for h in hits])
                sys.stdout.flush()
            return
        hits = c.retriever.search(query, k, mode)  # type: ignore[arg-type]
    if as_json:
        _emit([h.to_json() for h in hits])
        return
    if not hits:
        click.echo("no matches")
    for i, h in enumerate(hits, 1):
        where = f"p. {h.page}" if h.page else ""
        if h.line_start:
            where += f"{', ' if where else ''}lines {h.line_start}-{h.line_end}"
        click.echo(click.style(f"[{i}] {h.path}", bold=True) + (f" ({where})" if where else "")
                   + f"  score {h.score:.4f}")
        snippet = " ".join(h.text.split())
        click.echo(f"    {snippet[:300]}{'…' if len(snippet) > 300 else ''}")


def _warn_model_mismatch(c: Container) -> None:
    built_with = c.catalog.get_meta("model_id")
    if built_with and built_with != c.embedder.model_id:
        click.echo(f"ragd: warning: the index was built with {built_with}, the config asks for "
                   f"{c.embedder.model_id}; run `ragd index` to re-embed (lexical results only until then)", err=True)


def _where(page: int | None, line_start: int | None, line_end: int | None) -> str:
    where = f"p. {page}" if page else ""
    if line_start:
        where += f"{', ' if where else ''}lines {line_start}-{line_end}" if line_end != line_start else \
            f"{', ' if where else ''}line {line_start}"
    return f" ({where})" if where else ""


def _print_sources(answer: Answer) -> None:
    if answer.citations:
        click.echo(click.style("\nSources:", bold=True))
        for cit in answer.citations:
            click.echo(f"[{cit.n}] {cit.path}{_where(cit.page, cit.line_start, cit.line_end)}")
            click.echo(f"    “{cit.quote}”")
    if answer.nearest:
        click.echo(click.style("\nNearest passages:", bold=True))
        for i, h in enumerate(answer.nearest, 1):
            snippet = " ".join(h.text.split())
            click.echo(f"[{i}] {h.path}{_where(h.page, h.line_start, h.line_end)}")
            click.echo(f"    {snippet[:240]}{'…' if len(snippet) > 240 else ''}")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True,
              help="Print {answer, grounded, citations, timings} as one JSON object.")
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool) -> None:
    """Answer QUESTION from your files, with citations. With - as QUESTION, read one question per line
    and print one JSON object per line."""
    with _container(ctx, readonly=True) as c:
        _warn_model_mismatch(c)
        if not c.catalog.counts()["chunks"]:
            raise SourceError("nothing is indexed yet: `ragd index FOLDER` first")
        if question == "-":
            for line in sys.stdin:
                if line.strip():
                    answer = c.asker.ask(line.strip())
                    c.remember(answer)
                    _emit(answer.to_json())
                    sys.stdout.flush()
            return
        if not question.strip():
            raise click.UsageError("the question is empty")
        streamed: list[str] = []

        def show(piece: str) -> None:
            streamed.append(piece)
            click.echo(piece, nl=False)
            sys.stdout.flush()

        answer = c.asker.ask(question, on_token=None if as_json else show)
        c.remember(answer)
    if as_json:
        _emit(answer.to_json())
        return
    shown = "".join(streamed).strip()
    if shown and shown != answer.answer:
        click.echo(click.style("\n\n(ragd could not match that answer to your files; it is not shown as one.)",
                               fg="yellow"))
    if shown != answer.answer:
        click.echo(answer.answer)
    else:
        click.echo()
    _print_sources(answer)


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """List the indexed folders (or add/remove one)."""
    if ctx.invoked_subcommand is not None:
        return
    with _container(ctx, readonly=True) as c:
        counts: dict[str, int] = {}
        paths = c.source_paths()
        for path in c.catalog.files():
            for root in paths:
                if path == root or path.startswith(root + os.sep):
                    counts[root] = counts.get(root, 0) + 1
        rows = [{"path": p, "exists": os.path.exists(p), "files": counts.get(p, 0)} for p in paths]
    if as_json:
        _emit(rows)
        return
    if not rows:
        click.echo("no sources yet: `ragd index FOLDER` adds one")
    for r in rows:
        click.echo(f"{r['path']}  ({r['files']} files{'' if r['exists'] else ', MISSING'})")


@sources.command("remove")
@click.argument("path", type=click.Path())
@click.pass_context
def sources_remove(ctx: click.Context, path: str) -> None:
    """Stop indexing PATH and drop its files from the index."""
    root = resolve_paths([path])[0]
    with _container(ctx) as c, WriterLock(c.config.lock_path):
        if not c.catalog.remove_source(root):
            raise SourceError(f"not a source: {root}")
        remaining = [c.connector(r) for r in c.source_paths()]
        stats = c.indexer.run(remaining, prune_outside=True)
    click.echo(f"removed {root} ({stats.files_removed} files dropped from the index)")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Files, chunks, and the files that failed or were skipped, with reasons."""
    with _container(ctx, readonly=True) as c:
        counts = c.catalog.counts()
        problems = [{"path": r.path, "status": r.status, "reason": r.error} for r in c.catalog.problems()]
        data = {
            **counts,
            "model": c.catalog.get_meta("model_id"),
            "sources": c.source_paths(),
            "data_dir": str(c.config.data_dir),
            "problems": problems,
        }
    if as_json:
        _emit(data)
        return
    click.echo(f"{counts['files']} files ({counts['indexed']} indexed, {counts['failed']} failed, "
               f"{counts['skipped']} skipped), {counts['chunks']} chunks; model {data['model'] or '-'}")
    for p in problems:
        click.echo(f"  {p['status']}: {p['path']}: {p['reason']}")


@main.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check that the manifest, the lexical index and the vector store agree (exit 1 if not)."""
    with _container(ctx, readonly=True) as c:
        problems = verify(c.catalog, c.vectors)
    if as_json:
        _emit({"ok": not problems, "problems": problems})
    else:
        click.echo("ok: manifest and stores agree" if not problems else "\n".join(problems))
    if problems:
        ctx.exit(1)


main.add_command(models_cmd)
main.add_command(doctor_cmd)
main.add_command(history_cmd)
