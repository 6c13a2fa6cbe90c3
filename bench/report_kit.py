"""The machinery of ``bench/report.py``: number formatting, the plots, the report being written, and the
report it replaces (whose sections are carried forward when their JSON is missing)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PLOTS = "plots"  # beside RESULTS.md
RAGD = "#2176d2"
OTHER = "#9a9a9a"
THIRD = "#e08a1e"

Json = dict[str, Any]


# -- small formatting helpers ---------------------------------------------------------------------


def table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join("–" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(seconds: Any) -> str | None:
    if seconds is None:
        return None
    value = float(seconds) * 1000
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def sec(seconds: Any) -> str | None:
    if seconds is None:
        return None
    value = float(seconds)
    return f"{value:.1f} s" if value < 600 else f"{value / 60:.1f} min"


def num(value: Any, digits: int = 3) -> str | None:
    return None if value is None else f"{float(value):.{digits}f}"


def pct(value: Any) -> str | None:
    return None if value is None else f"{100 * float(value):.1f} %"


def ratio(value: Any) -> str | None:
    return None if value is None else f"{float(value):.2f}×"


def mb(value: Any) -> str | None:
    return None if value is None else f"{float(value):,.0f} MB"


def get(data: Any, *keys: Any, default: Any = None) -> Any:
    """data[k1][k2]... or ``default`` if any step is missing."""
    for key in keys:
        in_list = isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data)
        if (isinstance(data, dict) and key in data) or in_list:
            data = data[key]
        else:
            return default
    return data


NOT_MEASURED = "Not measured in this report"
CARRIED = "Carried forward from the report"


def section_number(heading: str) -> str:
    """"## 3. Query latency" → "3"; "" for a heading without a number."""
    m = re.match(r"## (\d+)\.", heading)
    return m.group(1) if m else ""


class Previous:
    """The report this one replaces: its sections by heading, its losses by section number, and its date.

    The JSON in ``bench/out/`` is committed with the report, but a benchmark may have run where its JSON was
    not kept (it was not, before 2026-11-29); a section without its JSON comes from here rather than vanishing,
    marked with the date and CPU it was measured on.
    """

    def __init__(self, text: str = "") -> None:
        m = re.search(r"bench\.report` on (\d{4}-\d{2}-\d{2})", text)
        self.date = m.group(1) if m else "an earlier run"
        cpu = re.search(r"^\| CPU \| (.+?) \|$", text, flags=re.M)
        self.cpu = cpu.group(1) if cpu else "an unrecorded CPU"
        self.sections: dict[str, str] = {}
        for block in re.split(r"^(?=## )", text, flags=re.M):
            if block.startswith("## "):
                heading, _, body = block.partition("\n")
                self.sections[heading.rstrip()] = body.strip("\n")
        self.losses: dict[str, list[str]] = {}
        for line in self.sections.get("## Where ragd loses", "").splitlines():
            tag = re.search(r" \(§(\d+)\)$", line)
            if line.startswith("- ") and tag:
                self.losses.setdefault(tag.group(1), []).append(line[2:])

    def section(self, heading: str) -> str | None:
        """The earlier text under ``heading``, or under the same section number if the title was reworded."""
        number = section_number(heading)
        for earlier, body in self.sections.items():
            if earlier == heading or (number and section_number(earlier) == number):
                return body
        return None

    @classmethod
    def read(cls, path: Path) -> Previous:
        return cls(path.read_text(encoding="utf-8") if path.exists() else "")


class Report:
    """Collects the markdown, the plots and the losses while the sections run."""

    def __init__(self, out: Path, results: Path, previous: Previous | None = None) -> None:
        self.out = out
        self.results = results
        self.plots = results.parent / PLOTS
        self.previous = previous or Previous()
        self.parts: list[str] = []
        self.losses: list[str] = []
        self.missing: list[str] = []
        self.carried: list[str] = []
        self._section: tuple[int, int, int] = (0, 0, 0)  # where the running section's parts, missing, losses begin
        self._commands: list[str] = []

    def load(self, name: str) -> Json | None:
        path = self.out / name
        if not path.exists():
            return None
        data: Json = json.loads(path.read_text(encoding="utf-8"))
        return data

    def add(self, text: str) -> None:
        self.parts.append(text.strip("\n") + "\n")

    def absent(self, what: str, command: str) -> None:
        self.add(f"*{NOT_MEASURED}: run `{command}`.*")
        self.missing.append(f"{what}: `{command}`")
        self._commands.append(command)

    def _heading(self) -> str:
        """The running section's heading line ("" before it added one)."""
        start = self._section[0]
        return self.parts[start].splitlines()[0] if start < len(self.parts) else ""

    def run(self, section: Callable[[Report], None]) -> None:
        """One section; one that found none of its JSON takes the earlier report's text of it, marked as such.

        A section that found part of its JSON (one of two datasets, say) is written from that part alone.
        """
        self._section = (len(self.parts), len(self.missing), len(self.losses))
        self._commands = []
        section(self)
        start, missing, losses = self._section
        heading = self._heading()
        measured = any(not p.startswith(f"*{NOT_MEASURED}") for p in self.parts[start + 1:])
        earlier = self.previous.section(heading)
        if measured or not self._commands or earlier is None or "|---" not in earlier:
            return
        commands = " and ".join(f"`{c}`" for c in self._commands)
        if CARRIED not in earlier:
            earlier += (f"\n\n*{CARRIED} of {self.previous.date}, measured on {self.previous.cpu}: its JSON is "
                        f"not in `bench/out/` now; run {commands} to measure it again.*")
        self.parts[start:] = [heading + "\n\n" + earlier.strip("\n") + "\n"]
        del self.missing[missing:]
        del self.losses[losses:]
        self.losses += self.previous.losses.get(section_number(heading), [])
        self.carried.append(f"{heading.removeprefix('## ')}: {commands}")

    def earlier_rows(self, heading: str, names: Sequence[str]) -> tuple[list[tuple[str, ...]], str]:
        """The earlier report's table rows under ``heading`` whose first cell is one of ``names``, marked †, and
        the note that says when and where they were measured ("" when there are none): a benchmark that ran for
        some rows of a table (three embedders of four, say) keeps the others' earlier figures, marked."""
        earlier = self.previous.section(heading) or ""
        rows = []
        for line in earlier.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| ") else []
            if cells and cells[0].removesuffix(" †") in names:
                rows.append((cells[0].removesuffix(" †") + " †", *cells[1:]))
        if not rows:
            return [], ""
        m = re.search(re.escape(CARRIED) + r" of (\S+), measured on ([^:]+):", earlier, flags=re.I)
        date, cpu = (m.group(1), m.group(2)) if m else (self.previous.date, self.previous.cpu)
        return rows, (f"† These rows were {CARRIED.lower()} of {date}, measured on {cpu}: their "
                      "JSON is not in `bench/out/` now.")

    def lose(self, text: str) -> None:
        """A place where ragd loses, tagged with the running section's number (so a carried section keeps it)."""
        number = section_number(self._heading())
        self.losses.append(f"{text} (§{number})" if number else text)

    def plot(self, name: str, draw: Callable[[Any], None], size: tuple[float, float] = (6.4, 3.6)) -> str:
        """Draw one figure to ``plots/NAME.png``; returns the markdown that shows it."""
        self.plots.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=size, dpi=110)
        draw(ax)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(self.plots / f"{name}.png")
        plt.close(fig)
        return f"![{name}]({PLOTS}/{name}.png)"


def bars(ax: Any, labels: Sequence[str], values: Sequence[float], colours: Sequence[str], unit: str,
         fmt: str = "{:.0f}") -> None:
    xs = range(len(labels))
    ax.bar(xs, values, color=colours)
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel(unit)
    for x, v in zip(xs, values, strict=True):
        ax.annotate(fmt.format(v), (x, v), ha="center", va="bottom", fontsize=8)


def grouped(ax: Any, groups: Sequence[str], series: dict[str, Sequence[float | None]], unit: str,
            colours: Sequence[str] | None = None) -> None:
    width = 0.8 / max(1, len(series))
    palette = list(colours or [RAGD, THIRD, OTHER, "#4caf50", "#9c27b0", "#795548"])
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [v or 0.0 for v in values], width, label=name, color=palette[i % len(palette)])
    ax.set_xticks(list(range(len(groups))), groups)
    ax.set_ylabel(unit)
    ax.legend(fontsize=8)
