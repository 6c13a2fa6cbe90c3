"""Pictures (PNG, JPEG, TIFF, WebP, BMP, GIF): their text by OCR (``ragd.index.parse.ocr``).

One document per file; its parts are the OCR'd text's blocks, ``page`` = the frame (1 for a single
picture, the page of a multi-page TIFF), lines = lines of that frame's OCR text, ``ocr=True``. A picture
without text is a document without parts. The size is checked from the header before any pixel is
decoded, so a pixel flood or decompression bomb is refused, not loaded.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse import ocr
from ragd.index.parse.text import paragraph_parts

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

MAX_FRAMES = 200  # pages of a TIFF read at most
_MULTI_PAGE = frozenset({"TIFF", "MPO"})  # formats whose frames are pages (a GIF's or WebP's are animation)


def _refused(exc: Exception) -> ParseError:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "pixel flood"
    return ParseError(f"refused: image too large ({size})")


def open_image(data: bytes) -> Image:
    """The picture in ``data``, opened (header only); a ParseError with a reason if it is not one."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = ocr.MAX_PIXELS  # Pillow itself refuses twice this at open
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Corrupt EXIF data": the pixels tell
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refused(exc) from None
    except UnidentifiedImageError:
        raise ParseError("not a readable image (unknown or damaged format)") from None
    except ValueError as exc:  # e.g. "Decompressed Data Too Large" (a zTXt/iCCP bomb)
        raise ParseError(f"refused: {exc}") from None
    except (OSError, SyntaxError) as exc:
        raise ParseError(f"damaged image: {exc}") from None
    ocr.refuse_if_huge(*image.size)
    return image


def load_frame(image: Image) -> Image:
    """Decode the current frame (size already checked) as RGB or L; a ParseError if the data is damaged."""
    from PIL import Image as PIL

    ocr.refuse_if_huge(*image.size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", PIL.DecompressionBombWarning)
            image.load()
            return image.convert("L" if image.mode in ("1", "L", "I;16", "I", "F") else "RGB")
    except (PIL.DecompressionBombError, PIL.DecompressionBombWarning) as exc:
        raise _refused(exc) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ParseError(f"damaged image: {exc}") from None


def ocr_parts(lines: list[str], page: int) -> list[Part]:
    """Parts of one page's OCR lines (``line_start``/``line_end`` count the lines of that page's text)."""
    return [replace(part, page=page, ocr=True) for part in paragraph_parts("\n".join(lines))]


class ImageParser:
    suffixes: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        image = open_image(data)
        frames = getattr(image, "n_frames", 1) if image.format in _MULTI_PAGE else 1
        budget = ocr.file_budget()
        parts: list[Part] = []
        meta = {"pages": str(frames)} if frames > 1 else {}
        whole = ocr.image_key(data)  # the file is hashed once; a frame's key is derived from it
        for frame in range(min(frames, MAX_FRAMES)):
            if frame and budget.spent():
                meta["ocr_skipped_pages"] = f"{frame + 1}-{frames}"
                log.warning("%s: OCR stopped at page %d of %d (time budget)", path, frame + 1, frames)
                break
            try:
                image.seek(frame)
            except EOFError:
                break
            key = ocr.image_key(whole.encode(), f"frame {frame}") if frames > 1 else whole
            parts.extend(ocr_parts(ocr.read_lines(key, lambda: load_frame(image)), frame + 1))
        if frames > MAX_FRAMES and "ocr_skipped_pages" not in meta:
            meta["ocr_skipped_pages"] = f"{MAX_FRAMES + 1}-{frames}"
        return [Document(parts=parts, meta=meta)]
