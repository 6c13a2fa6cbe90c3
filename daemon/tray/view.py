"""What the tray shows: a daemon status (or "no daemon") as a :class:`View` (state, tooltip, progress,
recent problems), and :func:`draw_icon`, the state as a round glyph drawn with Pillow (no image files).
Nothing here needs a display."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw

State = Literal["idle", "indexing", "paused", "error"]
STATES: tuple[State, ...] = ("idle", "indexing", "paused", "error")
MAX_PROBLEMS = 10
TITLE_MAX = 120  # Windows cuts tooltips at 128 characters

NOT_RUNNING = "the daemon is not running"


# -- the view: what a status means -----------------------------------------------------------------


@dataclass(frozen=True)
class View:
    state: State
    title: str  # the tooltip / menu-bar title
    running: bool  # the daemon answered
    paused: bool = False
    progress: float | None = None  # 0..1 while indexing a batch of known size
    problems: tuple[str, ...] = ()  # up to MAX_PROBLEMS lines for "Recent problems"


def _eta(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _line(path: str, reason: str | None) -> str:
    text = f"{Path(path).name or path}: {reason or 'failed'}"
    return text if len(text) <= 90 else text[:89] + "…"


def _problem_lines(status: Mapping[str, Any]) -> tuple[str, ...]:
    """The newest failures first, then the index's problems and unwatched folders; one line per path."""
    seen: dict[str, str] = {}
    indexing = status.get("indexing") or {}
    for failure in reversed((indexing.get("totals") or {}).get("failures") or []):
        path = str(failure.get("path", "?"))
        seen.setdefault(path, _line(path, failure.get("reason")))
    for problem in status.get("problems") or []:
        path = str(problem.get("path", "?"))
        seen.setdefault(path, _line(path, f"{problem.get('status', 'failed')}, {problem.get('reason') or '?'}"))
    for root, why in (status.get("unwatched") or {}).items():
        seen.setdefault(str(root), _line(str(root), f"not watched, {why}"))
    return tuple(seen.values())[:MAX_PROBLEMS]


def view_of(status: Mapping[str, Any] | None, reason: str | None = None) -> View:
    """The tray's view of ``GET /v1/status`` (None: no daemon; ``reason`` says why, if known)."""
    if status is None:
        title = f"ragd: cannot reach the daemon ({reason})" if reason else f"ragd: {NOT_RUNNING}"
        return View("error", shorten(title), running=False)
    indexing: Mapping[str, Any] = status.get("indexing") or {}
    paused = bool(status.get("paused"))
    problems = _problem_lines(status)
    queued = int(indexing.get("queued") or 0)
    batch = indexing.get("batch") or {}
    done, total = int(batch.get("done") or 0), int(batch.get("total") or 0)
    if paused:
        waiting = f" ({queued} change{'s' * (queued != 1)} waiting)" if queued else ""
        return View("paused", f"ragd: indexing paused{waiting}", True, True, None, problems)
    stores = [p for p in status.get("problems") or [] if p.get("status") in ("out_of_space", "damaged")]
    if stores:  # indexing is stopped (the disk is full) or a store is being rebuilt: red, and say which
        what = "the disk is full, indexing stopped" if stores[0]["status"] == "out_of_space" else \
            "a damaged index is being rebuilt"
        return View("error", f"ragd: {what} (see Recent problems)", True, False, None, problems)
    work = indexing.get("state")
    if work in ("indexing", "scanning", "starting") or queued:
        if total:
            eta = indexing.get("eta_s")
            title = f"ragd: indexing {done}/{total}" + (f", ETA {_eta(float(eta))}" if eta is not None else "")
            return View("indexing", title, True, False, min(1.0, done / total), problems)
        if work in ("scanning", "starting"):
            what = "scanning your folders"
        else:
            what = f"{queued} change{'s' * (queued != 1)} queued" if queued else "indexing…"
        return View("indexing", f"ragd: {what}", True, False, None, problems)
    last_error = indexing.get("last_error")
    failed = int(status.get("failed") or 0)
    if last_error:
        return View("error", shorten(f"ragd: indexing failed: {last_error}"), True, False, None, problems)
    if failed or status.get("unwatched"):
        what = f"{failed} file{'s' * (failed != 1)} could not be indexed" if failed else "a folder is not watched"
        return View("error", f"ragd: {what} (see Recent problems)", True, False, None, problems)
    indexed = int(status.get("indexed") or 0)
    return View("idle", f"ragd: up to date, {indexed:,} file{'s' * (indexed != 1)} indexed", True, False, None,
                problems)


def shorten(title: str) -> str:
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


# -- the icon ---------------------------------------------------------------------------------------

COLOURS: dict[State, tuple[int, int, int]] = {
    "idle": (46, 160, 67),  # green
    "indexing": (33, 118, 210),  # blue, with a progress arc
    "paused": (128, 128, 128),  # grey, with two bars
    "error": (206, 44, 44),  # red, with an exclamation mark
}


def draw_icon(state: State, progress: float | None = None, size: int = 64) -> Image.Image:
    """A round glyph in the state's colour, drawn at 4x and scaled down (smooth edges), RGBA."""
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    pad = big // 16
    draw.ellipse((pad, pad, big - pad, big - pad), fill=(*COLOURS[state], 255))
    white = (255, 255, 255, 255)
    c, r = big / 2, big / 2 - pad
    if state == "idle":  # a ring: ready
        ring = r * 0.45
        draw.ellipse((c - ring, c - ring, c + ring, c + ring), outline=white, width=max(1, big // 14))
    elif state == "indexing":  # a faint track and an arc as long as the progress (a quarter when unknown)
        arc, width = r * 0.62, max(1, big // 10)
        box = (c - arc, c - arc, c + arc, c + arc)
        track = tuple(round(v + (255 - v) * 0.35) for v in COLOURS[state])  # solid: ImageDraw does not blend
        draw.ellipse(box, outline=(*track, 255), width=width)
        share = 0.25 if progress is None else max(0.02, min(1.0, progress))
        draw.arc(box, -90, -90 + 360 * share, fill=white, width=width)
    elif state == "paused":  # two bars
        w, h = r * 0.22, r * 0.9
        for x in (c - w * 1.6, c + w * 0.6):
            draw.rectangle((x, c - h / 2, x + w, c + h / 2), fill=white)
    else:  # "!"
        w = r * 0.22
        draw.rectangle((c - w / 2, c - r * 0.55, c + w / 2, c + r * 0.15), fill=white)
        draw.ellipse((c - w * 0.6, c + r * 0.3, c + w * 0.6, c + r * 0.3 + w * 1.2), fill=white)
    return image.resize((size, size), Image.Resampling.LANCZOS)
