"""A bounded reader for GGUF headers: checked before llama.cpp ever opens a model file.

GGUF parsers have had memory-safety bugs, and a model file is untrusted input. This reader
never allocates more than the file could hold: every count and length is checked against the
bytes that remain before it is used; tensor shapes and data offsets must fit the file. It
returns the metadata ``ragd models`` shows (architecture, context length, quantization,
parameter count, license, chat template) or raises ``GGUFError`` with the first problem.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ragd.index.errors import RagdError

MAGIC = b"GGUF"
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_STRING = 16 << 20  # no key, name or value string is longer than this
DEFAULT_ALIGNMENT = 32

# value type -> struct format of a scalar
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# ggml tensor type -> (block size in elements, bytes per block), for the types in use
_GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110),
    22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8),
    29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),
}
_FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
               11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
               17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 32: "BF16"}


class GGUFError(RagdError):
    """The file is not a well-formed GGUF model."""


@dataclass
class GGUFInfo:
    path: Path
    version: int
    file_size: int
    metadata: dict[str, Any] = field(default_factory=dict)
    parameter_count: int = 0
    tensor_count: int = 0

    def _text(self, key: str) -> str | None:
        value = self.metadata.get(key)
        return value if isinstance(value, str) else None

    @property
    def architecture(self) -> str | None:
        return self._text("general.architecture")

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if isinstance(value, int) else None

    @property
    def quantization(self) -> str | None:
        value = self.metadata.get("general.file_type")
        return _FILE_TYPES.get(value, f"type {value}") if isinstance(value, int) else None

    @property
    def license(self) -> str | None:
        return self._text("general.license")

    @property
    def chat_template(self) -> str | None:
        return self._text("tokenizer.chat_template")


class _Reader:
    def __init__(self, f: BinaryIO, size: int, path: Path) -> None:
        self.f, self.size, self.path = f, size, path

    @property
    def left(self) -> int:
        return self.size - self.f.tell()

    def need(self, n: int, what: str) -> None:
        if n < 0 or n > self.left:
            raise GGUFError(
                f"{self.path.name}: {what} needs {n} bytes but only {self.left} remain (corrupt or truncated)")

    def unpack(self, fmt: str, what: str) -> Any:
        n = struct.calcsize(fmt)
        self.need(n, what)
        return struct.unpack(fmt, self.f.read(n))[0]

    def string(self, what: str) -> str:
        n = self.unpack("<Q", what)
        if n > MAX_STRING:
            raise GGUFError(f"{self.path.name}: {what} claims {n} bytes")
        self.need(n, what)
        return self.f.read(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype], what)
        if vtype == _STRING:
            return self.string(what)
        if vtype == _ARRAY:
            if depth > 2:
                raise GGUFError(f"{self.path.name}: {what}: arrays nested too deep")
            item_type = self.unpack("<I", what)
            count = self.unpack("<Q", what)
            smallest = struct.calcsize(_SCALARS[item_type]) if item_type in _SCALARS else 8
            self.need(count * smallest, f"{what} ({count} items)")
            items = [self.value(item_type, what, depth + 1) for _ in range(count)]
            return items if count <= 64 else _Summary(item_type, count)
        raise GGUFError(f"{self.path.name}: {what}: unknown value type {vtype}")


@dataclass(frozen=True)
class _Summary:
    """A long array (token lists): checked item by item, remembered only by its length."""

    item_type: int
    count: int


def read_gguf(path: Path) -> GGUFInfo:
    """Validate ``path`` as GGUF and return its metadata; GGUFError on the first inconsistency."""
    try:
        with open(path, "rb") as f:
            return _read(f, path.stat().st_size, path)
    except OSError as exc:
        raise GGUFError(f"cannot read model file {path}: {exc.strerror or exc}") from None


def _read(f: BinaryIO, size: int, path: Path) -> GGUFInfo:
    r = _Reader(f, size, path)
    if size < 24 or f.read(4) != MAGIC:
        raise GGUFError(f"{path.name} is not a GGUF file (bad magic)")
    version = r.unpack("<I", "version")
    if version not in (2, 3):
        raise GGUFError(f"{path.name}: unsupported GGUF version {version}")
    tensors = r.unpack("<Q", "tensor count")
    kv_count = r.unpack("<Q", "metadata count")
    r.need(kv_count * 13, f"{kv_count} metadata entries")  # key length + type + smallest value
    r.need(tensors * 28, f"{tensors} tensor descriptions")
    info = GGUFInfo(path=path, version=version, file_size=size, tensor_count=tensors)
    for i in range(kv_count):
        key = r.string(f"metadata key {i}")
        info.metadata[key] = r.value(r.unpack("<I", key), key)
    shapes: list[tuple[str, int, int]] = []
    for i in range(tensors):
        name = r.string(f"tensor name {i}")
        n_dims = r.unpack("<I", name)
        if not 1 <= n_dims <= MAX_DIMS:
            raise GGUFError(f"{path.name}: tensor {name!r} has {n_dims} dimensions")
        elements = 1
        for _ in range(n_dims):
            dim = r.unpack("<Q", name)
            if dim == 0 or dim > size * 256:
                raise GGUFError(f"{path.name}: tensor {name!r} has an impossible dimension {dim}")
            elements *= dim
        ttype = r.unpack("<I", name)
        offset = r.unpack("<Q", name)
        if ttype not in _GGML_TYPES:
            raise GGUFError(f"{path.name}: tensor {name!r} has unknown type {ttype}")
        block, block_bytes = _GGML_TYPES[ttype]
        shapes.append((name, offset, -(-elements // block) * block_bytes))
        info.parameter_count += elements
    alignment = info.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GGUFError(f"{path.name}: bad alignment {alignment!r}")
    data_start = -(-f.tell() // alignment) * alignment
    for name, offset, nbytes in shapes:
        if offset % alignment or data_start + offset + nbytes > size:
            raise GGUFError(f"{path.name}: tensor {name!r} lies outside the file (truncated?)")
    return info
