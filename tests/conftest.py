from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RAGD_SHARED_DATA", REPO.parent / "shared" / "data"))
# MiniLM's int8 export is made once for the whole run (about 10 s), not once per test's RAGD_HOME; the daemons
# the tests start inherit it. test_embed_onnx.py exports into a folder of its own.
MODEL_CACHE = REPO / "build" / "model-cache"
os.environ.setdefault("RAGD_MODEL_CACHE", str(MODEL_CACHE))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared evaluation data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
