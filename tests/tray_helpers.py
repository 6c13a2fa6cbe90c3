"""What the tray tests share: `ragd tray` from this checkout, and telling an icon's state from its pixels."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from ragd.daemon.tray.view import COLOURS


def tray_cli() -> list[str]:
    """`ragd tray`, from this checkout."""
    return [sys.executable, "-m", "ragd.daemon", "tray"]


def pixels(image: Any) -> list[tuple[int, ...]]:
    data = image.convert("RGBA").tobytes()
    return [tuple(data[i:i + 4]) for i in range(0, len(data), 4)]


def dominant(image: Any) -> tuple[int, ...]:
    """The commonest opaque colour."""
    return Counter(p[:3] for p in pixels(image) if p[3] == 255).most_common(1)[0][0]


def shows(image: Any, state: str) -> bool:
    """Whether ``image`` (a screenshot of the icon, scaled and anti-aliased) is mostly the state's colour:
    more of its pixels are near that colour than near any other state's."""
    def near(colour: tuple[int, int, int]) -> int:
        return sum(1 for p in pixels(image) if sum(abs(a - b) for a, b in zip(p[:3], colour, strict=False)) < 45)

    shares = {s: near(c) for s, c in COLOURS.items()}
    return max(shares, key=lambda s: shares[s]) == state and shares[state] > image.width * image.height // 4
