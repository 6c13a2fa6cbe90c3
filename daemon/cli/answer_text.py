"""An answer as the terminal shows it: the sentences the files do not support are marked."""

from __future__ import annotations

from typing import Any

import click


def marked_answer(answer: dict[str, Any]) -> str:
    """The answer's text with each sentence that is not supported marked: dimmed and "not found in your files",
    or "partly found" with what the source lacks."""
    text = str(answer["answer"])
    out: list[str] = []
    pos = 0
    for s in answer.get("sentences", []):
        if s["support"] == "supported":
            continue
        out.append(text[pos : s["start"]])
        sentence = text[s["start"] : s["end"]]
        if s["support"] == "unsupported":
            out.append(click.style(sentence, dim=True) + click.style(" [not found in your files]", fg="yellow"))
        else:
            lacks = f": {', '.join(s['missing'])} not in the source" if s["missing"] else ""
            out.append(sentence + click.style(f" [only partly found{lacks}]", fg="yellow"))
        pos = s["end"]
    out.append(text[pos:])
    return "".join(out)
