"""The ``ragd`` command line. User errors print one line and exit 1; data commands take --json."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ragd.daemon import config as config_mod
from ragd.daemon.answer_text import marked_answer
from ragd.daemon.cli_history import history_cmd
from ragd.daemon.cli_llm import doctor_cmd, models_cmd
from ragd.daemon.cli_serve import serve
from ragd.daemon.cli_service import service_cmd
from ragd.daemon.cli_tray import tray_cmd
from ragd.daemon.client import DaemonClient
from ragd.index import private
from ragd.index.errors import RagdError, SourceError
from ragd.index.lock import WriterLock
from ragd.index.paths import resolve_paths
from ragd.index.store.health import CHECKED_NAME, IndexDamaged, is_corruption

if TYPE_CHECKING:
    from ragd.daemon.container import Container
    from ragd.index.pipeline import IndexStats


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


@contextmanager
def _container(ctx: click.Context, readonly: bool = False) -> Iterator[Container]:
    from ragd.daemon.container import Container

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
    client = _daemon(ctx)
    if client is not None:
        _index_through(client, roots, as_json)
        return
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


def _index_through(client: DaemonClient, roots: list[str], as_json: bool) -> None:
    """The daemon does the work (it is the only writer); wait for it, showing its progress."""
    if roots:
        request = max(int(client.post("/v1/sources", {"path": root})["request"]) for root in roots)
    else:
        if not client.get("/v1/sources"):
            raise SourceError("nothing to index yet: give a folder, e.g. `ragd index ~/Documents`")
        request = int(client.post("/v1/reindex", {"paths": []})["request"])
    state = _wait_for(client, request, show_bar=not as_json and sys.stderr.isatty())
    if as_json:
        _emit({key: state[key] for key in ("files", "indexed", "failed", "skipped", "chunks")}
              | {"problems": state["problems"]})
        return
    click.echo(f"index up to date (through the daemon): {state['indexed']} files indexed, {state['failed']} failed, "
               f"{state['skipped']} skipped; {state['chunks']} chunks")
    for p in state["problems"][:20]:
        if p["status"] == "failed":
            click.echo(f"  failed: {p['path']}: {p['reason']}")


def _wait_for(client: DaemonClient, request: int, show_bar: bool) -> dict[str, Any]:
    """Wait until the daemon has written request number ``request``; returns its last status."""
    with _progress(show_bar) as progress:
        while True:
            state: dict[str, Any] = client.get("/v1/status")
            run = state["indexing"]
            if run["done_through"] >= request:
                return state
            if run.get("out_of_space"):  # it waits for free space: say so rather than wait with it
                raise RagdError(run["out_of_space"]["message"])
            if progress is not None and run["batch"]["total"]:
                progress(run["batch"]["done"], run["batch"]["total"], run["current"] or "")
            time.sleep(0.2)


def _print_stats(stats: IndexStats) -> None:
    click.echo(f"{stats.files_indexed} indexed, {stats.files_unchanged} unchanged, {stats.files_failed} failed, "
               f"{stats.files_skipped} skipped, {stats.files_removed} removed; "
               f"{stats.chunks_embedded} chunks embedded in {stats.seconds:.1f} s")
    for failure in stats.failures[:20]:
        click.echo(f"  failed: {failure['path']}: {failure['error']}")


@main.command()
@click.argument("query")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(1, 100), help="How many hits.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@click.pass_context
def search(ctx: click.Context, query: str, k: int, mode: str, as_json: bool) -> None:
    """Search the index. With - as QUERY, read one query per line and print one JSON list per line."""
    client = _daemon(ctx)
    if client is not None:
        def find(text: str) -> list[dict[str, Any]]:
            return list(client.post("/v1/search", {"query": text, "k": k, "mode": mode})["hits"])
        _search_output(query, find, as_json)
        return
    with _container(ctx, readonly=True) as c:
        _warn_model_mismatch(c)
        _search_output(query, lambda text: [h.to_json() for h in c.retriever.search(text, k, mode)],  # type: ignore[arg-type]
                       as_json)


def _search_output(query: str, find: Callable[[str], list[dict[str, Any]]], as_json: bool) -> None:
    if query == "-":
        for line in sys.stdin:
            _emit(find(line.strip()) if line.strip() else [])
            sys.stdout.flush()
        return
    hits = find(query) if query.strip() else []
    if as_json:
        _emit(hits)
        return
    if not hits:
        click.echo("no matches")
    for i, h in enumerate(hits, 1):
        click.echo(click.style(f"[{i}] {h['path']}", bold=True) + _where(h["page"], h["line_start"], h["line_end"])
                   + f"  score {h['score']:.4f}")
        snippet = " ".join(str(h["text"]).split())
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


def _print_sources(answer: dict[str, Any]) -> None:
    if answer["citations"]:
        click.echo(click.style("\nSources:", bold=True))
        for cit in answer["citations"]:
            click.echo(f"[{cit['n']}] {cit['path']}{_where(cit['page'], cit['line_start'], cit['line_end'])}")
            click.echo(f"    “{cit['quote']}”")
    if answer["nearest"]:
        click.echo(click.style("\nNearest passages:", bold=True))
        for i, h in enumerate(answer["nearest"], 1):
            snippet = " ".join(str(h["text"]).split())
            click.echo(f"[{i}] {h['path']}{_where(h['page'], h['line_start'], h['line_end'])}")
            click.echo(f"    {snippet[:240]}{'…' if len(snippet) > 240 else ''}")


Ask = Callable[[str, Callable[[str], None] | None], dict[str, Any]]


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
    client = _daemon(ctx)
    if client is not None:
        def through(text: str, on_token: Callable[[str], None] | None) -> dict[str, Any]:
            if on_token is None:
                return dict(client.post("/v1/ask", {"question": text}))
            for event, data in client.events("/v1/ask", {"question": text, "stream": True}):
                if event == "token":
                    on_token(data["text"])
                elif event == "answer":
                    return dict(data)
                elif event == "error":
                    raise RagdError(data["error"]["message"])
            raise RagdError("the daemon ended the answer early")
        _ask_output(question, through, as_json)
        return
    with _container(ctx, readonly=True) as c:
        _warn_model_mismatch(c)
        if not c.catalog.counts()["chunks"]:
            raise SourceError("nothing is indexed yet: `ragd index FOLDER` first")

        def here(text: str, on_token: Callable[[str], None] | None) -> dict[str, Any]:
            answer = c.asker.ask(text, on_token=on_token)
            c.remember(answer)
            return answer.to_json()
        _ask_output(question, here, as_json)


def _ask_output(question: str, ask: Ask, as_json: bool) -> None:
    if question == "-":
        for line in sys.stdin:
            if line.strip():
                _emit(ask(line.strip(), None))
                sys.stdout.flush()
        return
    streamed: list[str] = []

    def show(piece: str) -> None:
        streamed.append(piece)
        click.echo(piece, nl=False)
        sys.stdout.flush()

    answer = ask(question, None if as_json else show)
    if as_json:
        _emit(answer)
        return
    shown = "".join(streamed).strip()
    checked = [s for s in answer.get("sentences", []) if s["support"] != "supported"]
    if shown and shown != answer["answer"]:
        why = ("some of it is not found in your files" if answer.get("left_out") else
               "ragd could not match it to your files; it is not shown as one")
        click.echo(click.style(f"\n\n(The answer as checked: {why}.)", fg="yellow"))
        click.echo(marked_answer(answer))
    elif checked:
        click.echo(click.style("\n\nChecked against your files:", bold=True))
        click.echo(marked_answer(answer))
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
    client = _daemon(ctx)
    if client is not None:
        rows = [{"path": r["path"], "exists": r["exists"], "files": r["files"]} for r in client.get("/v1/sources")]
    else:
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
    client = _daemon(ctx)
    if client is not None:
        dropped = int(client.delete("/v1/sources", {"path": root})["files_dropped"])
    else:
        with _container(ctx) as c, WriterLock(c.config.lock_path):
            if not c.catalog.remove_source(root):
                raise SourceError(f"not a source: {root}")
            remaining = [c.connector(r) for r in c.source_paths()]
            dropped = c.indexer.run(remaining, prune_outside=True).files_removed
    click.echo(f"removed {root} ({dropped} files dropped from the index)")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Files, chunks, and the files that failed or were skipped, with reasons."""
    client = _daemon(ctx)
    if client is not None:
        data = dict(client.get("/v1/status"))
        data["daemon"] = client.url
    else:
        with _container(ctx, readonly=True) as c:
            counts = c.catalog.counts()
            problems = [{"path": r.path, "status": r.status, "reason": r.error} for r in c.catalog.problems()]
            data = {**counts, "model": c.catalog.get_meta("model_id"), "sources": c.source_paths(),
                    "data_dir": str(c.config.data_dir), "problems": problems, "daemon": None}
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
    client = _daemon(ctx)
    if client is not None:
        problems = list(client.get("/v1/verify")["problems"])
    else:
        from ragd.index.pipeline import verify

        with _container(ctx, readonly=True) as c:
            try:
                problems = verify(c.catalog, c.vectors)
            except IndexDamaged as exc:
                problems = [str(exc)]
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
    client = _daemon(ctx)
    if client is not None:
        reply = client.post("/v1/repair", {})
        repairs = list(reply["repairs"])
        state = _wait_for(client, int(reply["request"]), show_bar=not as_json and sys.stderr.isatty())
        counts = {key: state[key] for key in ("indexed", "failed", "chunks")}
    else:
        with _container(ctx) as c, WriterLock(c.config.lock_path):
            (c.config.data_dir / CHECKED_NAME).unlink(missing_ok=True)  # probe the vector store afresh
            with _progress(not as_json and sys.stderr.isatty()) as progress:
                c.indexer.run([c.connector(r) for r in c.source_paths()], prune_outside=True, progress=progress)
            repairs = [r.to_json() for r in c.repairs]
            counts = {key: c.catalog.counts()[key] for key in ("indexed", "failed", "chunks")}
    if as_json:
        _emit({"repairs": repairs, **counts})
        return
    for r in repairs:
        moved = f" (the damaged copy is {r['moved_to']})" if r.get("moved_to") else ""
        click.echo(f"{r['store']}: damaged ({r['problem']}); {r['action']}{moved}")
    if not repairs:
        click.echo("the catalog and the vector store are sound; nothing to repair")
    click.echo(f"index: {counts['indexed']} files indexed, {counts['failed']} failed; {counts['chunks']} chunks")


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
