"""The ``ragd`` command line. User errors print one line and exit 1; data commands take --json."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import click

from ragd.daemon import config as config_mod
from ragd.daemon.answer_text import marked_answer
from ragd.daemon.cli_history import history_cmd
from ragd.daemon.cli_llm import doctor_cmd, models_cmd
from ragd.daemon.cli_serve import serve
from ragd.daemon.cli_service import service_cmd
from ragd.daemon.cli_tray import tray_cmd
from ragd.daemon.client import DaemonClient
from ragd.daemon.service import Progress, Service, connect
from ragd.index import private
from ragd.index.answer.models import Answer
from ragd.index.errors import RagdError, SourceError
from ragd.index.location import cited
from ragd.index.models import MODES, Hit, Mode
from ragd.index.paths import resolve_paths
from ragd.index.store.health import is_corruption


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


def _daemon(ctx: click.Context) -> DaemonClient | None:
    """The running daemon, if there is one (``RAGD_NO_DAEMON=1`` works in-process regardless)."""
    if os.environ.get("RAGD_NO_DAEMON", "") not in ("", "0"):
        return None
    cfg: config_mod.Config = ctx.obj
    client = DaemonClient.find(cfg.daemon_path, cfg.token_path)
    if client is not None:
        ctx.call_on_close(client.close)
    return client


def _service(ctx: click.Context) -> Service:
    """The running daemon's, or this process's (see ``connect``); closed with the command."""
    service = connect(ctx.obj, os.environ)
    ctx.call_on_close(service.close)
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


def _bar(as_json: bool) -> AbstractContextManager[Progress | None]:
    return _progress(not as_json and sys.stderr.isatty())


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print what the run did as one JSON object.")
@click.pass_context
def index(ctx: click.Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Add PATHS as sources (if given) and bring the index up to date."""
    roots = resolve_paths(paths)
    for root in roots:
        if not os.path.exists(root):
            raise SourceError(f"no such file or directory: {root}")
    service = _service(ctx)
    with _bar(as_json) as progress:
        stats = service.index(roots, progress)
    if as_json:
        _emit(stats.to_json())
        return
    through = " (through the daemon)" if service.url else ""
    click.echo(f"{stats.files_indexed} indexed, {stats.files_unchanged} unchanged, {stats.files_failed} failed, "
               f"{stats.files_skipped} skipped, {stats.files_removed} removed; "
               f"{stats.chunks_embedded} chunks embedded in {stats.seconds:.1f} s{through}")
    for failure in stats.failures[:20]:
        click.echo(f"  failed: {failure['path']}: {failure['reason']}")


@main.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 100), help="How many hits.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@click.pass_context
def search(ctx: click.Context, query: str, k: int, mode: Mode, as_json: bool) -> None:
    """Search the index. With - as QUERY, read one query per line and print one JSON list per line."""
    service = _service(ctx)

    def find(text: str) -> list[Hit]:
        return service.search(text, k, mode) if text.strip() else []

    if query == "-":
        for line in sys.stdin:
            _emit([h.to_json() for h in find(line.strip())])
            sys.stdout.flush()
        return
    hits = find(query)
    if as_json:
        _emit([h.to_json() for h in hits])
        return
    if not hits:
        click.echo("no matches")
    for i, h in enumerate(hits, 1):
        click.echo(click.style(f"[{i}] {cited(h.path, h.page, h.line_start, h.line_end)}", bold=True)
                   + f"  score {h.score:.4f}")
        click.echo(f"    {_snippet(h.text, 300)}")


def _snippet(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return f"{flat[:limit]}{'…' if len(flat) > limit else ''}"


def _print_sources(answer: Answer) -> None:
    if answer.citations:
        click.echo(click.style("\nSources:", bold=True))
        for cit in answer.citations:
            click.echo(f"[{cit.n}] {cited(cit.path, cit.page, cit.line_start, cit.line_end)}")
            click.echo(f"    “{cit.quote}”")
    if answer.nearest:
        click.echo(click.style("\nNearest passages:", bold=True))
        for i, h in enumerate(answer.nearest, 1):
            click.echo(f"[{i}] {cited(h.path, h.page, h.line_start, h.line_end)}")
            click.echo(f"    {_snippet(h.text, 240)}")


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True,
              help="Print {answer, grounded, supported_share, sentences, citations, timings} as one JSON object.")
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool) -> None:
    """Answer QUESTION from your files, with citations. With - as QUESTION, read one question per line
    and print one JSON object per line."""
    if question != "-" and not question.strip():
        raise click.UsageError("the question is empty")
    service = _service(ctx)
    if question == "-":
        for line in sys.stdin:
            if line.strip():
                _emit(service.ask(line.strip()).to_json())
                sys.stdout.flush()
        return
    streamed: list[str] = []

    def show(piece: str) -> None:
        streamed.append(piece)
        click.echo(piece, nl=False)
        sys.stdout.flush()

    answer = service.ask(question, None if as_json else show)
    if as_json:
        _emit(answer.to_json())
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
    _print_sources(answer)


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """List the indexed folders (or add/remove one)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = _service(ctx).sources()
    if as_json:
        _emit([r.to_json() for r in rows])
        return
    if not rows:
        click.echo("no sources yet: `ragd index FOLDER` adds one")
    for r in rows:
        notes = [f"{r.files} files", *(["MISSING"] if not r.exists else []),
                 *([f"not watched: {r.problem}"] if r.problem else [])]
        click.echo(f"{r.path}  ({', '.join(notes)})")


@sources.command("remove")
@click.argument("path", type=click.Path())
@click.pass_context
def sources_remove(ctx: click.Context, path: str) -> None:
    """Stop indexing PATH and drop its files from the index."""
    root = resolve_paths([path])[0]
    dropped = _service(ctx).remove_source(root)
    click.echo(f"removed {root} ({dropped} files dropped from the index)")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Files, chunks, and the files that failed or were skipped, with reasons."""
    data = _service(ctx).status()
    if as_json:
        _emit(data)
        return
    click.echo(f"{data['files']} files ({data['indexed']} indexed, {data['failed']} failed, "
               f"{data['skipped']} skipped), {data['chunks']} chunks; model {data['model'] or '-'}")
    cfg: config_mod.Config = ctx.obj
    if data["daemon"]:
        run = data["indexing"]
        eta = f", about {run['eta_s']:.0f} s left" if run.get("eta_s") else ""
        click.echo(f"daemon: {data['daemon']} ({'paused' if data['paused'] else run['state']}; "
                   f"{run['queued']} queued{eta}); token in {cfg.token_path}")
    else:
        click.echo("daemon: not running (`ragd serve` starts it)")
    for p in data["problems"]:
        click.echo(f"  {p['status']}: {p['path']}: {p['reason']}")


@main.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check that the manifest, the lexical index and the vector store agree (exit 1 if not)."""
    problems = _service(ctx).verify()
    if as_json:
        _emit({"ok": not problems, "problems": problems})
    else:
        click.echo("ok: manifest and stores agree" if not problems else "\n".join(problems))
    if problems:
        ctx.exit(1)


@main.command("repair")
@click.option("--json", "as_json", is_flag=True, help="Print {repairs, indexed, failed, chunks} as JSON.")
@click.pass_context
def repair_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check the index's stores; move a damaged one aside and rebuild it from your files and the embedding
    cache (the question history is kept)."""
    service = _service(ctx)
    with _bar(as_json) as progress:
        report = service.repair(progress)
    if as_json:
        _emit(report.to_json())
        return
    for r in report.repairs:
        moved = f" (the damaged copy is {r['moved_to']})" if r.get("moved_to") else ""
        click.echo(f"{r['store']}: damaged ({r['problem']}); {r['action']}{moved}")
    if not report.repairs:
        click.echo("the catalog and the vector store are sound; nothing to repair")
    click.echo(f"index: {report.indexed} files indexed, {report.failed} failed; {report.chunks} chunks")


@main.command("open")
@click.option("--view", type=click.Choice(["ask", "sources", "history"]), default="ask", show_default=True)
@click.option("--print-url", is_flag=True, help="Print the one-time link instead of opening a browser.")
@click.pass_context
def open_cmd(ctx: click.Context, view: str, print_url: bool) -> None:
    """Open the web page, signed in through a one-time link (the page never sees the API token)."""
    client = _daemon(ctx)
    if client is None:
        raise RagdError("the daemon is not running: start it with `ragd serve` (or `ragd service install`)")
    url = str(client.post("/v1/session/link", {"next": f"/#{view}"})["url"])
    if print_url:
        click.echo(url)
        return
    import webbrowser

    if not webbrowser.open(url):
        click.echo(f"no browser found; open this link (it works once): {url}")


main.add_command(models_cmd)
main.add_command(doctor_cmd)
main.add_command(history_cmd)
main.add_command(serve)
main.add_command(service_cmd)
main.add_command(tray_cmd)
