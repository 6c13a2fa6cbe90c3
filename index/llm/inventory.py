"""What a model needs and what the machine has: the data behind ``ragd models`` and ``ragd doctor``.

Nothing here loads a model: sizes come from the GGUF header (``read_gguf``), memory from psutil
(or ``/proc/meminfo``, or ``sysconf``) and ``nvidia-smi`` when it is installed.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragd.index.llm.gguf import GGUFError, GGUFInfo, read_gguf
from ragd.index.llm.settings import ModelSpec

MiB = 1 << 20
COMPUTE_FIXED = 64 * MiB  # llama.cpp scratch/compute buffers, roughly independent of the model
COMPUTE_SHARE = 20  # ... plus 1/20 of the weights (buffers grow with the layer widths)
FITS_COMFORTABLY = 0.7  # "yes" up to this share of the free memory; "tight" up to all of it
# used when a GGUF lacks the shape keys: a 7B llama, so the guess errs on the high side
_FALLBACK_LAYERS, _FALLBACK_EMBD, _FALLBACK_HEADS = 32, 4096, 32


def _meta_int(meta: dict[str, Any], key: str) -> int | None:
    """An integer metadata value; per-layer arrays (some models vary head counts) give their maximum."""
    value = meta.get(key)
    if isinstance(value, list):
        value = max((v for v in value if isinstance(v, int) and not isinstance(v, bool)), default=None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def estimate_memory_bytes(info: GGUFInfo, n_ctx: int) -> int:
    """Resident memory to run ``info`` with a context of ``n_ctx`` tokens, in bytes.

    weights  = the file size (llama.cpp maps the file; every page is touched while answering)
    kv cache = n_layers * n_ctx * n_head_kv * (head_dim_k + head_dim_v) * 2 bytes (f16 K and V);
               with head_dim = embedding_length / head_count this is 2 * n_layers * n_ctx * n_embd_kv * 2
    compute  = COMPUTE_FIXED + weights / COMPUTE_SHARE
    """
    meta, arch = info.metadata, info.architecture or "llama"
    n_layers = _meta_int(meta, f"{arch}.block_count") or _FALLBACK_LAYERS
    n_embd = _meta_int(meta, f"{arch}.embedding_length") or _FALLBACK_EMBD
    n_head = _meta_int(meta, f"{arch}.attention.head_count") or _FALLBACK_HEADS
    n_head_kv = _meta_int(meta, f"{arch}.attention.head_count_kv") or n_head  # no GQA unless stated
    head_k = _meta_int(meta, f"{arch}.attention.key_length") or max(1, n_embd // n_head)
    head_v = _meta_int(meta, f"{arch}.attention.value_length") or max(1, n_embd // n_head)
    kv_cache = n_layers * n_ctx * n_head_kv * (head_k + head_v) * 2
    return info.file_size + kv_cache + COMPUTE_FIXED + info.file_size // COMPUTE_SHARE


@dataclass
class ModelReport:
    name: str
    path: str
    exists: bool = False
    file_size: int | None = None
    quantization: str | None = None
    parameter_count: int | None = None
    context_length: int | None = None  # the model's own
    n_ctx: int | None = None  # what ragd would use: min(model's, [llm] context_tokens)
    license: str | None = None
    architecture: str | None = None
    has_chat_template: bool = False
    estimated_memory: int | None = None
    sha256_pinned: bool = False
    error: str | None = None  # missing or malformed file; the other fields are then partly empty

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def describe(spec: ModelSpec, context_cap: int) -> ModelReport:
    """Read ``spec``'s GGUF header; a missing or malformed file is reported in ``error``, never raised."""
    path = Path(spec.path)
    report = ModelReport(name=spec.name, path=str(path), sha256_pinned=spec.sha256 is not None)
    if not path.exists():
        report.error = f"model file not found: {path}"
        return report
    if not path.is_file():
        report.error = f"not a file: {path}"
        return report
    report.exists = True
    try:
        report.file_size = path.stat().st_size
        info = read_gguf(path)
    except GGUFError as exc:
        report.error = str(exc)
        return report
    except Exception as exc:  # a model file is untrusted input: whatever breaks the reader is a finding
        report.error = f"{path.name}: unreadable model file ({type(exc).__name__}: {exc})"
        return report
    report.quantization = info.quantization
    report.parameter_count = info.parameter_count
    report.context_length = info.context_length
    report.n_ctx = min(info.context_length or context_cap, context_cap)
    report.license = info.license
    report.architecture = info.architecture
    report.has_chat_template = bool(info.chat_template)
    report.estimated_memory = estimate_memory_bytes(info, report.n_ctx)
    return report


def _psutil() -> Any:
    try:
        import psutil
    except ImportError:
        return None
    return psutil


def _ram() -> tuple[int, int, str]:
    """(total, available, where the numbers came from)."""
    ps = _psutil()
    if ps is not None:
        vm = ps.virtual_memory()
        return int(vm.total), int(vm.available), "psutil"
    try:
        fields: dict[str, int] = {}
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                fields[key] = int(rest.split()[0]) * 1024  # values are in kB
        return fields["MemTotal"], fields.get("MemAvailable", fields.get("MemFree", 0)), "/proc/meminfo"
    except (OSError, ValueError, IndexError, KeyError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = page * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0, 0, "unknown"
    try:
        available = page * os.sysconf("SC_AVPHYS_PAGES")  # free pages only: an underestimate
    except (ValueError, OSError):
        available = total
    return total, available, "sysconf"


def _nvidia_gpus() -> list[dict[str, Any]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.rsplit(",", 2)]
        try:
            gpus.append({"name": parts[0], "total_bytes": int(float(parts[1]) * MiB),
                         "free_bytes": int(float(parts[2]) * MiB)})  # nounits: MiB
        except (IndexError, ValueError):
            continue  # e.g. "[N/A]" on some boards
    return gpus


def machine_memory() -> dict[str, Any]:
    """RAM, physical cores and GPU memory. On macOS the GPU shares the RAM (unified memory)."""
    total, available, source = _ram()
    ps = _psutil()
    cores = (ps.cpu_count(logical=False) if ps is not None else None) or os.cpu_count() or 1
    unified = platform.system() == "Darwin"
    return {
        "total_bytes": total,
        "available_bytes": available,
        "memory_source": source,
        "physical_cores": int(cores),
        "logical_cores": os.cpu_count() or 1,
        "gpus": [] if unified else _nvidia_gpus(),
        "unified_memory": unified,
    }


def fits(report: ModelReport, machine: dict[str, Any]) -> str:
    """Whether the model's estimate fits the free memory: the available RAM or any one GPU's free memory,
    whichever is largest. "yes" up to FITS_COMFORTABLY (70%) of it (room left for the OS, the embedder and
    the index), "tight" up to 100% (expect swapping or partial offload), else "no"; "unknown" without an
    estimate (the file is missing or bad)."""
    if report.estimated_memory is None:
        return "unknown"
    room = max([int(machine.get("available_bytes") or 0)]
               + [int(g.get("free_bytes") or 0) for g in machine.get("gpus") or []])
    if room <= 0:
        return "unknown"
    if report.estimated_memory <= FITS_COMFORTABLY * room:
        return "yes"
    return "tight" if report.estimated_memory <= room else "no"


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit in ("B", "KiB") or size >= 100 else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def human_count(n: int | None) -> str:
    """134515008 -> "134.5M"."""
    if not n:
        return "-"
    for div, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)
