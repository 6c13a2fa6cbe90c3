"""``ragd config``: the settings in effect, and where each came from (the file, a variable, or the default)."""

from __future__ import annotations

import json
from typing import Any

import click

from ragd.daemon.config import Config
from ragd.daemon.settings import Section, Settings


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _lines(cfg: Config) -> list[str]:
    rows: list[tuple[str, str, str]] = [("config_file", _toml(cfg.config_file), "")]
    rows.append(("data_dir", _toml(cfg.data_dir), cfg.origins.get("data_dir", "default")))
    sections: list[tuple[str, Section]] = []
    for name in Settings.model_fields:
        value = getattr(cfg, name)
        if name == "data_dir":
            continue
        if isinstance(value, Section):
            sections.append((name, value))
        elif name == "models":
            for model, entry in value.items():
                sections.append((f"models.{model}", entry))
        else:
            rows.append((name, _toml(value), cfg.origins.get(name, "default")))
    out = _table(rows)
    for name, section in sections:
        def origin(key: str, name: str = name) -> str:
            return cfg.origins.get("models" if name.startswith("models.") else f"{name}.{key}", "default")

        out += ["", f"[{name}]", *_table([(key, _toml(getattr(section, key)), origin(key))
                                          for key in type(section).model_fields])]
    return out


def _table(rows: list[tuple[str, str, str]]) -> list[str]:
    width = max((len(k) + len(v) for k, v, _ in rows), default=0) + 3
    return [f"{f'{k} = {v}':<{width}}{f'  # {o}' if o else ''}" for k, v, o in rows]


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print {settings, origins} as JSON.")
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show the settings in effect and where each came from (file, RAGD_* variable, or default)."""
    cfg: Config = ctx.obj
    if as_json:
        settings = cfg.model_dump(mode="json", exclude={"origins"})
        click.echo(json.dumps({"settings": settings, "origins": cfg.origins}, ensure_ascii=False))
        return
    click.echo("\n".join(_lines(cfg)))
