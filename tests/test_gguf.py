"""The bounded GGUF reader on well-formed and hostile files written here byte by byte."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ragd.index.llm.gguf import GGUFError, read_gguf


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf(kvs: list[bytes], tensors: list[bytes], data: bytes, *, version: int = 3, magic: bytes = b"GGUF",
         tensor_count: int | None = None, kv_count: int | None = None) -> bytes:
    head = magic + struct.pack("<IQQ", version, len(tensors) if tensor_count is None else tensor_count,
                               len(kvs) if kv_count is None else kv_count)
    body = head + b"".join(kvs) + b"".join(tensors)
    body += b"\0" * (-len(body) % 32)
    return body + data


def kv_str(key: str, value: str) -> bytes:
    return _s(key) + struct.pack("<I", 8) + _s(value)


def kv_u32(key: str, value: int) -> bytes:
    return _s(key) + struct.pack("<II", 4, value)


def tensor(name: str, dims: list[int], ttype: int = 0, offset: int = 0) -> bytes:
    return _s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + \
        struct.pack("<IQ", ttype, offset)


GOOD_KVS = [kv_str("general.architecture", "llama"), kv_u32("llama.context_length", 4096),
            kv_u32("general.file_type", 3), kv_str("general.license", "apache-2.0"),
            kv_str("tokenizer.chat_template", "{{ messages }}")]


def write(tmp_path: Path, blob: bytes) -> Path:
    p = tmp_path / "model.gguf"
    p.write_bytes(blob)
    return p


def test_a_well_formed_file_gives_its_metadata(tmp_path):
    blob = gguf(GOOD_KVS, [tensor("w", [4, 8], 0, 0), tensor("b", [8], 0, 128)], b"\0" * (128 + 32))
    info = read_gguf(write(tmp_path, blob))
    assert (info.architecture, info.context_length, info.quantization, info.license) == \
        ("llama", 4096, "Q4_1", "apache-2.0")
    assert info.parameter_count == 40 and info.tensor_count == 2 and info.chat_template == "{{ messages }}"


@pytest.mark.parametrize("blob, message", [
    (b"oops", "not a GGUF file"),
    (gguf(GOOD_KVS, [], b"", magic=b"GGML"), "bad magic"),
    (gguf(GOOD_KVS, [], b"", version=9), "unsupported GGUF version"),
    (gguf(GOOD_KVS, [], b"", kv_count=10**12), "metadata entries"),
    (gguf(GOOD_KVS, [], b"", tensor_count=10**12), "tensor descriptions"),
    (gguf([_s("k") + struct.pack("<IQ", 8, 2**62)], [], b""), "claims"),
    (gguf([_s("k") + struct.pack("<IIQ", 9, 4, 2**40)], [], b""), "items"),
    (gguf([_s("k") + struct.pack("<I", 77)], [], b""), "unknown value type"),
    (gguf(GOOD_KVS, [tensor("w", [])], b""), "0 dimensions"),
    (gguf(GOOD_KVS, [tensor("w", [4, 0])], b""), "impossible dimension"),
    (gguf(GOOD_KVS, [tensor("w", [4], 99)], b"\0" * 64), "unknown type"),
    (gguf(GOOD_KVS, [tensor("w", [1024], 0, 0)], b"\0" * 64), "outside the file"),
    (gguf(GOOD_KVS, [tensor("w", [4], 0, 3)], b"\0" * 64), "outside the file"),
])
def test_hostile_or_broken_files_get_a_clear_error(tmp_path, blob, message):
    with pytest.raises(GGUFError, match=message):
        read_gguf(write(tmp_path, blob))


def test_a_truncated_file_is_refused_at_every_cut(tmp_path):
    blob = gguf(GOOD_KVS, [tensor("w", [4, 8], 0, 0)], b"\0" * 128)
    for cut in range(0, len(blob) - 1, 7):
        with pytest.raises(GGUFError):
            read_gguf(write(tmp_path, blob[:cut]))


def test_a_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(GGUFError, match="cannot read model file"):
        read_gguf(tmp_path / "nope.gguf")
