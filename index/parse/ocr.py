"""OCR on this machine: text lines, in reading order, from an image (a picture file or a scanned PDF page).

Engines, measured by ``bench/ocr_engines.py`` on the docs_more images and scans:

- ``rapidocr``: PP-OCRv4 (detection + recognition) in onnxruntime; the wheel ships its models, so it works
  offline. Its recognizer reads English and Chinese; its alphabet has only 5 Japanese kana, so it cannot
  read Japanese prose.
- ``tesseract``: the ``tesseract`` program (``eng``, ``jpn``, ``jpn_vert`` where installed), run as a
  subprocess; optional. It reads Japanese, horizontal and vertical, and orders its own lines.
- ``auto`` (the default): Tesseract where it is installed, else RapidOCR. On the benchmark Tesseract reads
  English better (CER 0.03 against 0.15: multi-column and skewed pages) and is the only one that reads
  Japanese at all; RapidOCR needs no system package and reads tables better.

RapidOCR's own pipeline turns tall crops by 90 degrees, which lays vertical Japanese on its side; here a
vertical line is cut into its characters and laid out left to right (upright) before recognition, and lines
are put in reading order by a recursive XY cut (columns of a page left to right; vertical columns right to
left, each top to bottom).

Results are cached by the SHA-256 of the image's bytes (a file's own bytes, or a rendered page's pixels), one
small JSON file each, so that a re-parse (a re-index, the citation check) never runs the engine again.
The worker sets the cache, the engine and the time budget with :func:`configure` from its pool's config.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragd.index.errors import ParseError

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

ENGINES = ("auto", "rapidocr", "tesseract")
MAX_PIXELS = 50_000_000  # an image or a rendered page larger than this is refused (pixel flood)
CACHE_VERSION = 1  # bump when the engines' output changes for the same image
TESSERACT_TIMEOUT_S = 120.0
_WIDE = "\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_SPACE = re.compile(f"(?<=[{_WIDE}]) +| +(?=[{_WIDE}])")  # Japanese has no spaces between words


@dataclass
class Settings:
    """What the worker was told: where to cache, which engine, how long one file may spend on OCR."""

    cache_dir: Path | None = None
    engine: str = "auto"
    budget_s: float | None = None  # OCR time one file may use (wall and CPU) before its other pages are skipped
    lease: Callable[[], float] | None = None  # asks the pool for a file's OCR time; returns the seconds granted


_settings = Settings()
_lock = threading.Lock()
calls = 0  # engine runs in this process (tests check that a re-parse makes none)


def configure(cache_dir: Path | str | None = None, engine: str = "auto", budget_s: float | None = None,
              lease: Callable[[], float] | None = None) -> None:
    """Set this process's OCR cache directory (None: no cache), engine and per-file time budget. With ``lease``
    (the worker's), a file that needs OCR first asks its pool for the longer OCR time (``ocr_timeout_s``)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown OCR engine {engine!r} (one of {', '.join(ENGINES)})")
    _settings.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
    _settings.engine = engine
    _settings.budget_s = budget_s
    _settings.lease = lease


def settings() -> Settings:
    return _settings


def refuse_if_huge(width: int, height: int, what: str = "image", limit: int = MAX_PIXELS) -> None:
    """Refuse a pixel flood before anything is decoded."""
    if width <= 0 or height <= 0:
        raise ParseError(f"damaged {what}: size {width}x{height}")
    if width * height > limit:
        raise ParseError(f"refused: {what} too large ({width * height / 1e6:.0f} megapixels)")


def file_budget() -> Budget:
    """The OCR time of the file being parsed: leased from the pool where the worker can (a long scan gets
    ``ocr_timeout_s``, not the parse time limit), else the configured budget."""
    if _settings.lease is not None:
        seconds = 0.9 * _settings.lease()  # the rest is the last page's headroom
        return Budget(seconds, cpu_seconds=seconds * (os.cpu_count() or 1))  # as the worker's leased CPU limit
    return Budget(_settings.budget_s)


class Budget:
    """Wall and CPU time one file's OCR may use; CPU counts every onnxruntime thread (the worker's RLIMIT_CPU)."""

    def __init__(self, seconds: float | None, cpu_seconds: float | None = None) -> None:
        self.seconds = seconds
        self.cpu_seconds = cpu_seconds if cpu_seconds is not None else seconds
        self._wall = time.monotonic()
        self._cpu = time.process_time()

    def spent(self) -> bool:
        if self.seconds is None:
            return False
        return (time.monotonic() - self._wall > self.seconds
                or time.process_time() - self._cpu > (self.cpu_seconds or self.seconds))


# -- the cache ------------------------------------------------------------------------------------


def image_key(data: bytes | memoryview, extra: str = "") -> str:
    """The cache key of an image's bytes (``extra`` tells frames or pixel formats apart)."""
    digest = hashlib.sha256(data)
    if extra:
        digest.update(b"\0" + extra.encode())
    return digest.hexdigest()


def _cache_file(key: str, engine: str) -> Path | None:
    if _settings.cache_dir is None:
        return None
    return _settings.cache_dir / key[:2] / f"{key}.{engine}.json"


def _cached(key: str, engine: str) -> list[str] | None:
    path = _cache_file(key, engine)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("lines"), list):
        return None
    return [str(line) for line in data["lines"]]


def _store(key: str, engine: str, lines: list[str], used: str) -> None:
    path = _cache_file(key, engine)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ocr-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"version": CACHE_VERSION, "engine": used, "lines": lines}, out, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError as exc:  # a full or read-only disk costs the cache, not the file
        log.warning("cannot write the OCR cache %s: %s", path, exc)


# -- entry point ----------------------------------------------------------------------------------


def read_lines(key: str, load: Callable[[], Image], engine: str | None = None) -> list[str]:
    """The text lines of the image ``key`` names, from the cache, or from the engine on ``load()``'s image.

    ``load`` decodes (size-checked) only on a cache miss: a re-parse decodes and renders nothing.
    """
    engine = engine or _settings.engine
    lines = _cached(key, engine)
    if lines is not None:
        return lines
    image = load()
    global calls
    with _lock:
        calls += 1
    lines, used = _run(image, engine)
    _store(key, engine, lines, used)
    return lines


def _run(image: Image, engine: str) -> tuple[list[str], str]:
    if engine == "tesseract" or (engine == "auto" and tesseract_languages()):
        return tesseract_lines(image), "tesseract"
    return rapidocr_lines(image), "rapidocr"


# -- RapidOCR -------------------------------------------------------------------------------------


@cache
def _rapidocr() -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise ParseError("OCR is not available (install rapidocr-onnxruntime)") from exc
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    return RapidOCR()


@dataclass
class _Box:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    vertical: bool


def rapidocr_lines(image: Image) -> list[str]:
    """Lines in reading order by RapidOCR."""
    import numpy as np

    engine = _rapidocr()
    bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
    small, ratio_h, ratio_w = engine.preprocess(bgr)
    found, _ = engine.text_det(small)
    if found is None or len(found) == 0:
        return []
    crops: list[Any] = []
    tall: list[bool] = []
    for points in found:
        crop = _crop(small, points)
        vertical = crop.shape[0] >= 1.5 * crop.shape[1]
        tall.append(vertical)
        crops.append(_upright(crop) if vertical else crop)
    recognized, _ = engine.text_rec(crops)
    boxes = []
    for points, vertical, (text, score) in zip(found, tall, recognized, strict=True):
        text = str(text).strip()
        if not text or float(score) < engine.text_score:
            continue
        xs, ys = points[:, 0] / ratio_w, points[:, 1] / ratio_h
        boxes.append(_Box(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()), text, vertical))
    return reading_order(boxes, sum(b.vertical for b in boxes) * 2 > len(boxes))


def _crop(image: Any, points: Any) -> Any:
    import cv2
    import numpy as np

    width = int(max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3])))
    height = int(max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(points.astype(np.float32), target)
    return cv2.warpPerspective(image, matrix, (max(1, width), max(1, height)), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)


def _upright(column: Any) -> Any:
    """A vertical line's characters side by side, upright (the recognizer reads left to right).

    Characters are found as runs of inked rows (Otsu threshold); runs closer than a quarter of the column's
    width that together stay within its width are one character (二, 三 and the like have inner gaps).
    """
    import cv2
    import numpy as np

    height, width = column.shape[:2]
    gray = cv2.cvtColor(column, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    inked = (ink > 0).sum(axis=1) > max(1.0, 0.02 * width)
    runs: list[list[int]] = []
    start: int | None = None
    for y, on in enumerate(inked):
        if on and start is None:
            start = y
        elif not on and start is not None:
            runs.append([start, y])
            start = None
    if start is not None:
        runs.append([start, height])
    glyphs: list[list[int]] = []
    for run in runs:
        if glyphs and run[1] - glyphs[-1][0] <= 0.95 * width and run[0] - glyphs[-1][1] < 0.25 * width:
            glyphs[-1][1] = run[1]
        else:
            glyphs.append(run)
    if not glyphs:
        return np.rot90(column)
    side = max(width, max(b - a for a, b in glyphs))
    background = np.median(column.reshape(-1, column.shape[2]), axis=0).astype(column.dtype)
    gap = max(2, width // 8)
    strip = np.empty((side, len(glyphs) * (width + gap), column.shape[2]), dtype=column.dtype)
    strip[:] = background
    for i, (a, b) in enumerate(glyphs):
        top = (side - (b - a)) // 2
        x = i * (width + gap)
        strip[top:top + b - a, x:x + width] = column[a:b]
    return strip


def reading_order(boxes: Sequence[_Box], vertical: bool) -> list[str]:
    """Lines of text in reading order, by a recursive XY cut on the boxes' empty bands.

    At each level the cut goes along the axis with the widest empty band (a gutter between columns is wider
    than the space between lines), at every band nearly (90%) as wide. Horizontal text: bands top to bottom,
    columns left to right, and boxes that share a row are one line. Vertical text: columns right to left.
    """
    lines: list[str] = []
    if boxes:
        _cut(list(boxes), vertical, lines, 0, max(b.x1 for b in boxes) - min(b.x0 for b in boxes))
    return lines


def _gaps(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The empty intervals between the union of ``spans``."""
    spans = sorted(spans)
    out: list[tuple[float, float]] = []
    end = spans[0][1]
    for a, b in spans[1:]:
        if a > end:
            out.append((end, a))
        end = max(end, b)
    return out


def _cut(boxes: list[_Box], vertical: bool, lines: list[str], depth: int, page_width: float) -> None:
    if len(boxes) > 1 and depth < 300:
        y_gaps = _gaps([(b.y0, b.y1) for b in boxes])
        x_gaps = _gaps([(b.x0, b.x1) for b in boxes])
        widest_y = max((b - a for a, b in y_gaps), default=0.0)
        widest_x = max((b - a for a, b in x_gaps), default=0.0)
        if widest_y > 0 or widest_x > 0:
            along_x = widest_x > widest_y
            gaps, widest = (x_gaps, widest_x) if along_x else (y_gaps, widest_y)
            cuts = [(a + b) / 2 for a, b in gaps if b - a >= 0.9 * widest]
            groups: dict[int, list[_Box]] = {}
            for box in boxes:
                middle = (box.x0 + box.x1) / 2 if along_x else (box.y0 + box.y1) / 2
                groups.setdefault(sum(middle > c for c in cuts), []).append(box)
            order = sorted(groups, reverse=along_x and vertical)
            if along_x and not vertical and _table_like(page_width, boxes, x_gaps):
                order = []  # read a table by rows, not column by column
            if len(order) > 1:
                for index in order:
                    _cut(groups[index], vertical, lines, depth + 1, page_width)
                return
    if vertical:
        for box in sorted(boxes, key=lambda b: (-b.x1, b.y0)):
            lines.append(box.text)
        return
    rows: list[list[_Box]] = []
    for box in sorted(boxes, key=lambda b: (b.y0 + b.y1) / 2):
        middle = (box.y0 + box.y1) / 2
        if rows and rows[-1][-1].y0 <= middle <= rows[-1][-1].y1:
            rows[-1].append(box)
        else:
            rows.append([box])
    for row in rows:
        lines.append(_join([b.text for b in sorted(row, key=lambda b: b.x0)]))


def _table_like(page_width: float, boxes: Sequence[_Box], x_gaps: Sequence[tuple[float, float]]) -> bool:
    """Whether boxes side by side are a table (narrow columns, a fifth of the page or less, whose rows line up
    for most boxes) rather than columns of prose: a table is read by rows."""
    cuts = [(a + b) / 2 for a, b in x_gaps]
    columns: dict[int, list[_Box]] = {}
    for box in boxes:
        columns.setdefault(sum((box.x0 + box.x1) / 2 > c for c in cuts), []).append(box)
    if all(max(b.x1 for b in c) - min(b.x0 for b in c) >= 0.2 * page_width for c in columns.values()):
        return False
    aligned = sum(any(o is not b and o.y0 <= (b.y0 + b.y1) / 2 <= o.y1 and (o.x0 > b.x1 or o.x1 < b.x0)
                      for o in boxes) for b in boxes)
    return aligned >= 0.5 * len(boxes)


def _join(pieces: list[str]) -> str:
    return _CJK_SPACE.sub("", " ".join(pieces))


# -- Tesseract ------------------------------------------------------------------------------------


@cache
def tesseract_languages() -> frozenset[str]:
    """The languages the installed ``tesseract`` has (empty when it is not installed)."""
    program = shutil.which("tesseract")
    if program is None:
        return frozenset()
    try:
        done = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in done.stdout.splitlines()[1:] if line.strip())


def _die_with_parent() -> None:
    """Tesseract ends when its worker does (a worker the pool kills for its time must not leave OCR running)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def tesseract_lines(image: Image, languages: str = "", psm: str = "3") -> list[str]:
    """Lines by ``tesseract`` (automatic page segmentation; English and Japanese where installed)."""
    available = tesseract_languages()
    program = shutil.which("tesseract")
    if program is None or not available:
        raise ParseError("OCR engine tesseract is not installed")
    languages = languages or "+".join(x for x in ("eng", "jpn", "jpn_vert") if x in available) or min(available)
    with tempfile.TemporaryDirectory(prefix="ragd-ocr-") as tmp:
        source = Path(tmp) / "page.png"
        image.save(source, format="PNG")
        try:
            done = subprocess.run([program, str(source), "stdout", "-l", languages, "--psm", psm],
                                  capture_output=True, timeout=TESSERACT_TIMEOUT_S, check=False,
                                  env={**os.environ, "OMP_THREAD_LIMIT": "1"}, preexec_fn=_die_with_parent)
        except subprocess.TimeoutExpired:
            raise ParseError(f"OCR timed out after {TESSERACT_TIMEOUT_S:g} s") from None
        except OSError as exc:
            raise ParseError(f"OCR failed: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ParseError(f"OCR failed: tesseract: {message[-1] if message else done.returncode}")
    text = done.stdout.decode("utf-8", "replace").replace("\f", "\n")
    return [_join(line.split()) for line in text.splitlines() if line.strip()]
