"""Running the real ``ragd`` command in a subprocess, against a private RAGD_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def ragd_env(home: Path, **extra: str) -> dict[str, str]:
    # the model cache is shared (tests/conftest.py): each fresh home would otherwise export the int8 model again
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGD_") or k == "RAGD_MODEL_CACHE"}
    env.update({"RAGD_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "ANONYMIZED_TELEMETRY": "False", "PYTHONWARNINGS": "ignore"})
    env.update(extra)
    return env


def ragd_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ragd.daemon", *args]


def ragd(home: Path, *args: str, input: str | None = None, check: bool = True, timeout: float = 600,
         **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(ragd_cmd(*args), env=ragd_env(home, **env), input=input, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"ragd {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def ragd_json(home: Path, *args: str, **kw: Any) -> Any:
    return json.loads(ragd(home, *args, "--json", **kw).stdout)
